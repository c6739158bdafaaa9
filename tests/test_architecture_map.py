"""docs/architecture.md's map of the packages names every module under app/, and only those."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAP = ROOT / "docs" / "architecture.md"
ROW = re.compile(r"^\| `(app/[^`]+\.py)` \| (.*) \|$", re.MULTILINE)


def rows() -> dict[str, str]:
    """Each file the map's tables name, with its job."""
    found: dict[str, str] = {}
    for path, job in ROW.findall(MAP.read_text(encoding="utf-8")):
        assert path not in found, f"{path} has two rows in the map"
        found[path] = job.strip()
    return found


def modules() -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "app").rglob("*.py")}


def test_every_module_has_a_row_and_every_row_a_module() -> None:
    named = set(rows())
    assert sorted(modules() - named) == [], "modules missing from docs/architecture.md's tables"
    assert sorted(named - modules()) == [], "rows of docs/architecture.md's tables naming no module"


def test_every_row_says_the_file_s_job() -> None:
    assert [path for path, job in rows().items() if not job] == []
