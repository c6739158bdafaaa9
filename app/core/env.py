"""Where the agents' data lives: a home directory and the environment to honour.

The core owns it: the index, the snapshot of a walk and the watcher take one, and every
source reads its roots through it; a refresh with nothing new never loads a parser.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


class Env:
    """Where the agents' data lives: a home directory and the environment to honour.

    ``Env.under(home)`` takes every default root under ``home`` and ignores the
    process environment, so a test or a ``--home`` run sees only that tree.
    """

    __slots__ = ("home", "environ")

    def __init__(self, home: Path, environ: Mapping[str, str] | None = None) -> None:
        self.home = home
        self.environ: Mapping[str, str] = {} if environ is None else environ

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Env) and (self.home, self.environ) == (other.home, other.environ)

    def __hash__(self) -> int:
        return hash(self.home)

    def __repr__(self) -> str:
        return f"Env(home={self.home!r}, environ={dict(self.environ)!r})"

    @classmethod
    def current(cls) -> Env:
        return cls(Path.home(), dict(os.environ))

    @classmethod
    def under(cls, home: Path) -> Env:
        return cls(Path(home), {})

    def var(self, name: str) -> str | None:
        value = self.environ.get(name)
        return value if value else None

    def xdg_data(self) -> Path:
        return Path(self.var("XDG_DATA_HOME") or self.home / ".local" / "share")

    def xdg_config(self) -> Path:
        return Path(self.var("XDG_CONFIG_HOME") or self.home / ".config")
