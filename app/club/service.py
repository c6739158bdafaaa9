"""The club's operations as the desktop app calls them (Qt-free): export to a file, merge into a folder.

Also the page's own settings, ``club.json`` beside the app's settings: the member name and
the club folder last used (nothing secret; the key is in the keyring).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from app.core import paths

if TYPE_CHECKING:
    from app.club.merge import Result


def config_file() -> Path:
    return paths.config_dir() / "club.json"


def load_config() -> dict[str, Any]:
    try:
        doc = orjson.loads(config_file().read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def save_config(**changes: Any) -> None:
    doc = {**load_config(), **changes}
    paths.write_atomic(config_file(), orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")


def export_to(db: Path, member: str, out: Path, models: bool = True, cost: bool = True) -> dict[str, Any]:
    """Sign and write ``member``'s export of the index ``db`` (as it is: the app keeps it fresh) to ``out``.

    Raises:
        InsecureKeyring, KeyringLockedError, SigningError, ExportError, OSError: nothing written.
    """
    from app.club import export, signing
    from app.core.filters import Filter
    from app.core.index import Index
    from app.core.settings import load
    from app.core.timezones import resolve_zone
    from app.sources import SOURCES

    member = export.check_member(member)
    prefs = load().settings
    tz = resolve_zone(prefs.tz)
    key = signing.load_or_create(member)
    index = Index(db, overrides=paths.overrides_file(), sources=SOURCES)
    try:
        doc = export.build(
            index.conn,
            Filter(tz=tz, agents=prefs.enabled_agents()),
            member,
            key,
            today=datetime.now(tz).date(),
            models=models,
            cost=cost,
        )
    finally:
        index.close()
    paths.write_atomic(out, export.dumps(doc))
    days = len(doc["days"]["date"])
    return {"path": str(out), "days": days, "fingerprint": key.fingerprint, "created_key": key.created}


def merge_into(files: list[Path], folder: Path, as_of: date | None = None) -> dict[str, Any]:
    """Merge ``files`` with the exports already in ``folder`` (its ``*.json``) and write the board there.

    Imported files are copied into the folder first, so the next import merges them again. A
    copy never overwrites another file of the same name (two members' ``export.json``): it
    gets a free name instead (the merge keeps the latest export per member and day anyway).
    """
    from app.club import merge

    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        if f.resolve().parent != folder.resolve():
            _copy_in(f, folder)
    inputs = sorted(p for p in folder.glob("*.json") if p.name != merge.MEMBERS_FILE)
    _, doc, out = merge_board(inputs, folder, as_of or datetime.now(UTC).date())
    return {"board": str(out), "doc": doc}


def merge_board(
    files: list[Path], folder: Path, as_of: date, kiosk_seconds: int = 60
) -> tuple[Result, dict[str, Any], Path]:
    """Verify and merge ``files`` into the board in ``folder`` (``board/``), keeping the members' pinned keys.

    Returns the merge's result, the board's document and the folder it was written to.

    Raises:
        ValueError: ``members.json`` is unreadable; nothing was written.
    """
    from app.club import board, merge

    result = merge.merge(files, folder)
    doc, out = board.build(result, folder, as_of, kiosk_seconds=kiosk_seconds)
    merge.save_pins(folder, result.pins)
    return result, doc, out


def _copy_in(src: Path, folder: Path) -> Path:
    """Copy ``src`` into ``folder`` under its name, or ``NAME-2.json``… when another file holds that name."""
    import shutil

    data = src.read_bytes()
    target = folder / src.name
    n = 1
    while target.exists() or target.name == "members.json":  # the pinned keys' file is never replaced
        if target.exists() and target.read_bytes() == data:
            return target  # imported before
        n += 1
        target = folder / f"{src.stem}-{n}{src.suffix}"
    shutil.copyfile(src, target)
    return target


def load_board(folder: Path) -> dict[str, Any] | None:
    """The board last written in ``folder``, or None."""
    try:
        doc = orjson.loads((folder / "board" / "leaderboard.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) else None
