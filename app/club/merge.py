"""Merging members' exports: verify each file, pin each member's key, keep the latest day.

``merge(paths, club_dir)`` reads every file (``schema.read``: size, JSON, structure,
version, signature), applies the arithmetic rules (``rules.check_file``), checks the key
against ``members.json`` in the club folder (a member's key is pinned on first sight; the
same name, compared case-insensitively, with another key is rejected), then drops the days
a physical rule rejects. A file that fails is listed with its rule and reason; the others
still merge. Per member, exports apply oldest first (by ``created``): each one replaces
every day in its ``since``..``until`` range, so a re-export replaces the older days.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

import orjson

from app.club import columns, rules
from app.club.schema import Rejected, read

MEMBERS_FILE = "members.json"
MEMBERS_SCHEMA = "tokenclub.club-members"


# a merged day: (in, cw, cr, out, rsn, total, calls, cost_musd); cost_musd None when the export left cost out
IN, CW, CR, OUT, RSN, TOTAL, CALLS, COST = range(8)


COLUMNS = columns.FIELDS  # the export's day fields: the first seven of a merged day, in that order


class Member:
    """One member's merged days, as sorted ``dates`` and eight aligned ``cols`` (see IN … COST)."""

    __slots__ = ("name", "public", "fingerprint", "flags", "files", "includes_cost", "dates", "cols", "_parts")

    def __init__(self, name: str, public: str, fp: str) -> None:
        self.name = name
        self.public = public
        self.fingerprint = fp
        self.flags: set[str] = set()
        self.files = 0
        self.includes_cost = True
        self.dates: list[str] = []
        self.cols: list[list[Any]] = [[] for _ in range(8)]
        self._parts: list[tuple[dict[str, Any], set[str]]] = []

    @property
    def days(self) -> dict[str, tuple[Any, ...]]:
        """Date to ``(in, cw, cr, out, rsn, total, calls, cost_musd)``."""
        return dict(zip(self.dates, zip(*self.cols, strict=True), strict=True))

    def _finish(self) -> None:
        """Apply the exports oldest first: each replaces every day in its since..until (dropped days stay out)."""
        if len(self._parts) == 1 and not self._parts[0][1]:  # the usual case: one file, every day kept
            doc = self._parts[0][0]
            self.dates, self.cols = doc["days"]["date"], _columns(doc)
            return
        days: dict[str, tuple[Any, ...]] = {}
        for doc, dropped in self._parts:
            since, until = doc["since"], doc["until"]
            for d in [d for d in days if since <= d <= until]:
                del days[d]
            days.update(zip(doc["days"]["date"], zip(*_columns(doc), strict=True), strict=True))
            for d in dropped:
                days.pop(d, None)
        self.dates = sorted(days)
        rows = [days[d] for d in self.dates]
        self.cols = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(8)]


def _columns(doc: dict[str, Any]) -> list[list[Any]]:
    cols = doc["days"]
    cost = cols["cost_musd"] if doc["includes"]["cost"] else [None] * len(cols["date"])
    return [*(cols[c] for c in COLUMNS), cost]


class Result:
    """What a merge kept and what it turned away."""

    def __init__(self) -> None:
        self.members: dict[str, Member] = {}  # by case-folded name
        self.rejections: list[dict[str, Any]] = []
        self.files_merged = 0
        self.pins: dict[str, Any] = {}  # members.json's members, with this run's first sightings added
        self.new_pins: list[str] = []

    def reject(self, file: str, member: str | None, err: Rejected, action: str) -> None:
        self.rejections.append(
            {"file": file, "member": member, "rule": err.rule, "day": err.day, "reason": err.reason, "action": action}
        )


def load_pins(club_dir: Path) -> dict[str, Any]:
    """``members.json``'s members by case-folded name (empty when there is none yet)."""
    path = club_dir / MEMBERS_FILE
    try:
        doc = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (orjson.JSONDecodeError, OSError) as exc:
        raise ValueError(f"{path} cannot be read ({exc}); fix or move it: it pins the members' keys") from None
    if not isinstance(doc, dict) or doc.get("schema") != MEMBERS_SCHEMA or not isinstance(doc.get("members"), dict):
        raise ValueError(f"{path} is not a TokenClub members file; fix or move it: it pins the members' keys")
    return {name.casefold(): entry for name, entry in doc["members"].items()}


def save_pins(club_dir: Path, pins: dict[str, Any]) -> None:
    """Write ``members.json`` atomically (a temporary file, then a rename)."""
    members = {entry["name"]: entry for _, entry in sorted(pins.items())}
    data = orjson.dumps({"schema": MEMBERS_SCHEMA, "version": 1, "members": members}, option=orjson.OPT_INDENT_2)
    tmp = club_dir / f".{MEMBERS_FILE}.{os.getpid()}.tmp"
    tmp.write_bytes(data + b"\n")
    os.replace(tmp, club_dir / MEMBERS_FILE)


PARALLEL_FROM = 64  # files: below this, starting worker processes costs more than it saves


def check(path: Path, latest: date) -> tuple[Any, ...]:
    """Everything about one file that needs no other file: read, verify, the rules. Picklable result.

    ``("ok", slim_doc, [(day, rule, reason), …])`` with the days the physical rules drop, or
    ``("rejected", member_or_None, rule, reason, day)``.
    """
    try:
        doc = read(path)  # structure, signature and the arithmetic rules
    except Rejected as err:
        return ("rejected", err.member, err.rule, err.reason, err.day)
    except OSError as exc:
        return ("rejected", None, "unreadable", f"cannot be read: {exc.strerror or exc}", None)
    problems = [(d, err.rule, err.reason) for d, err in rules.day_problems(doc, latest)]
    days = doc["days"]
    slim = {k: doc[k] for k in ("member", "created", "since", "until", "includes", "key")}
    slim["days"] = {c: days[c] for c in ("date", *COLUMNS, *(("cost_musd",) if doc["includes"]["cost"] else ()))}
    return ("ok", slim, problems)


def _check_all(paths: list[Path], latest: date, workers: int | None) -> Iterator[tuple[Any, ...]]:
    """:func:`check` of every path, in order; in worker processes for a large club where that is safe."""
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if len(paths) >= PARALLEL_FROM else 1
    # fork only a process with no other thread (the desktop app merges on its worker thread: sequentially)
    if workers > 1 and sys.platform.startswith("linux") and threading.active_count() == 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            yield from pool.map(check, paths, repeat(latest), chunksize=max(1, len(paths) // (workers * 8)))
        return
    for path in paths:
        yield check(path, latest)


def merge(paths: list[Path], club_dir: Path, now: datetime | None = None, workers: int | None = None) -> Result:
    """Verify and merge ``paths``; pins are read from ``club_dir`` (the caller saves ``result.pins``)."""
    result = Result()
    result.pins = load_pins(club_dir)
    latest = rules.latest_possible_day(now)
    skip = club_dir.resolve() / MEMBERS_FILE
    paths = [p for p in paths if not (p.name == MEMBERS_FILE and p.resolve() == skip)]  # a glob over the folder
    accepted: list[tuple[str, int, dict[str, Any], Member, set[str]]] = []
    collecting = gc.isenabled()
    gc.disable()  # the parsed files are acyclic; collecting while thousands are held costs a fifth of the merge
    try:
        for order, (path, checked) in enumerate(zip(paths, _check_all(paths, latest, workers), strict=True)):
            name = path.name
            if checked[0] == "rejected":
                _, member_name, rule, reason, day = checked
                result.reject(name, member_name, Rejected(rule, reason, day), "file rejected")
                continue
            _, doc, problems = checked
            try:
                member = _pinned(result, doc)
            except Rejected as err:
                result.reject(name, doc["member"], err, "file rejected")
                continue
            dropped = set()
            for day, rule, reason in problems:
                result.reject(name, doc["member"], Rejected(rule, reason, day), "day dropped")
                member.flags.add(rule)
                dropped.add(day)
            accepted.append((doc["created"], order, doc, member, dropped))
            result.files_merged += 1
        for _, _, doc, member, dropped in sorted(accepted, key=lambda a: (a[0], a[1])):
            _apply(member, doc, dropped)
        for member in result.members.values():
            member._finish()
    finally:
        if collecting:
            gc.enable()
    return result


def _pinned(result: Result, doc: dict[str, Any]) -> Member:
    """The member this file belongs to, pinning its key on first sight; a different key is rejected."""
    name = doc["member"]
    folded = name.casefold()
    public, fp = doc["key"]["public"], doc["key"]["fingerprint"]
    pin = result.pins.get(folded)
    if pin is None:
        pin = result.pins[folded] = {
            "name": name,
            "public": public,
            "fingerprint": fp,
            "first_seen": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        }
        result.new_pins.append(name)
    elif pin["public"] != public:
        raise Rejected(
            "key_mismatch",
            f"signed by {fp}, but {pin['name']!r} is pinned to {pin['fingerprint']} in {MEMBERS_FILE}: another "
            "member with the same name, or a new key (the club removes the old pin to accept it)",
        )
    member = result.members.get(folded)
    if member is None:
        member = result.members[folded] = Member(pin["name"], public, pin["fingerprint"])
    return member


def _apply(member: Member, doc: dict[str, Any], dropped: set[str]) -> None:
    member.includes_cost = member.includes_cost and doc["includes"]["cost"]
    member.files += 1
    member._parts.append((doc, dropped))
