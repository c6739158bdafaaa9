"""TokenClub's helper on a dedicated machine: standard-library modules, Python 3.8 or newer.

The host runs one file, ``joined()``: the modules below concatenated in dependency order, each
without its imports of this package (in one file they share one namespace), so its bytes, and the
hash the uploaded file is named by, depend on these sources alone. No module here imports anything
of ``app`` outside this package; tests import them in process.
"""

from __future__ import annotations

import re
from pathlib import Path

# dependency order: each module imports only from those before it
MODULES = ("frames", "files", "processes", "streams", "hostcheck", "supervisor", "runs", "main")
_OWN_IMPORT = re.compile(r"from \.\w+ import ")


def _unimported(name: str, text: str) -> str:
    """``text`` without its top-level imports of this package (a parenthesised one spans lines)."""
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        if inside:
            inside = not line.startswith(")")
        elif _OWN_IMPORT.match(line):
            inside = line.rstrip().endswith("(")
        elif "from ." in line and _OWN_IMPORT.search(line):
            raise ValueError(f"{name}.py: an import of the package below the top level cannot be joined")
        else:
            kept.append(line)
    return "".join(kept)


def joined() -> bytes:
    """The helper as the host runs it: one file, the same bytes for the same sources."""
    here = Path(__file__).parent
    parts = []
    for name in MODULES:
        text = (here / f"{name}.py").read_text(encoding="utf-8")
        parts.append(f"# -- {name}.py " + "-" * (92 - len(name)) + "\n\n" + _unimported(name, text).strip() + "\n")
    return "\n\n".join(parts).encode()
