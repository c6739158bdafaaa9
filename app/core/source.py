"""The contract every agent's source implements, and how a caller hands the sources to the core.

A source turns one file (from a byte offset, with the state it left there) into normalised
:class:`~app.core.model.UsageEvent` s. It never touches the index: the index decides which
files to read and stores what comes back. The adapters live in ``app.sources``; the core
never imports them: its caller gives it a :class:`Sources`, the name of a registry module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from app.core.descriptor import Descriptor

if TYPE_CHECKING:
    from app.core.env import Env
    from app.core.model import UsageEvent

# Every agent TokenClub reads, by id, in display order: the settings and the index speak of these;
# the registry module a caller names (``app.sources``) maps each to its adapter.
AGENTS = (
    "claude-code",
    "codex",
    "gemini-cli",
    "opencode",
    "qwen-code",
    "amp",
    "pi-agent",
    "kimi-cli",
    "kilo-cli",
    "roo-code",
    "kilo-code",
    "cline",
    "copilot-cli",
    "factory-droid",
    "goose",
    "hermes-agent",
    "openclaw",
    "grok-build",
    "zcode",
)

TAIL = 32  # bytes before a read's end that the index keeps, to notice a file rewritten in place

# The largest usage count believed: far above any real request (a 2M-token context is 2**21, a long
# Codex thread's running total about 2**34), below 2**53 (the largest integer a JSON number written
# by a JavaScript agent holds exactly), and low enough that 2**21 events at the ceiling are needed
# before a sum of four counts overflows SQLite's 64-bit integers. A count above it is a damaged or
# hostile line, never usage: counting it would overflow the index and stop every refresh.
COUNT_BITS = 40
MAX_COUNT = (1 << COUNT_BITS) - 1  # ``(a | b | ...) >> COUNT_BITS == 0``: all of them in 0..MAX_COUNT


class BadCount(ValueError):
    """A usage count that cannot be counted: the record holding it is skipped under ``str(exc)``.

    Raised by ``app.sources.base.count``; the line scanner and :meth:`ParseResult.record` turn it into a skip.
    """


class ParseResult:
    """What one read of one file produced.

    ``offset`` is how far the file is consumed: only complete lines count, so a
    half-written last line is read again, whole, next time.
    """

    __slots__ = ("events", "offset", "state", "skips", "tail")

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.events: list[UsageEvent] = []
        self.offset = 0
        self.state: dict[str, Any] = {} if state is None else state
        self.skips: dict[str, int] = {}
        # (path, offset, the TAIL bytes before it) when a scan saw them: the index need not read them again
        self.tail: tuple[str, int, bytes] | None = None

    def skip(self, reason: str, n: int = 1) -> None:
        self.skips[reason] = self.skips.get(reason, 0) + n

    def record(self, read: Callable[..., None], *args: Any) -> None:
        """``read(*args)`` for one record of a document: a :class:`BadCount` there skips that record."""
        try:
            read(*args)
        except BadCount as exc:
            self.skip(str(exc))


class Source(ABC):
    """One agent's logs.

    Subclasses set ``agent`` (kebab-case id) and ``title``, and say whether a file is
    appended to (read from the last offset) or rewritten whole (re-read on change).
    """

    agent: ClassVar[str]
    title: ClassVar[str]
    whole_file: ClassVar[bool] = False
    descriptor: ClassVar[Descriptor] = Descriptor()  # its variables, colour and headless mode

    def is_whole(self, path: str | Path) -> bool:
        """True when ``path`` is rewritten rather than appended to: re-read it whole on change."""
        return self.whole_file

    def companions(self, path: Path) -> tuple[Path, ...]:
        """Files whose change also changes what ``path`` holds (an SQLite database's ``-wal``)."""
        return ()

    @abstractmethod
    def roots(self, env: Env) -> list[Path]:
        """Directories (or files) this agent writes to, honouring its env overrides."""

    @abstractmethod
    def discover(self, root: Path) -> Iterator[Path]:
        """Files under ``root`` that may carry usage."""

    def files(self, root: Path) -> Iterator[str]:
        """``discover`` as path strings: what a refresh stats (sources with many files make no Paths)."""
        return map(str, self.discover(root))

    @abstractmethod
    def parse(self, path: Path, offset: int, state: dict[str, Any]) -> ParseResult:
        """Read ``path`` from ``offset`` and return the events found there."""


class Sources:
    """The sources a caller hands the core, named by a registry module: ``source(agent)`` and ``prepare()``.

    The module is imported only when a file must be walked or read (a refresh that finds nothing
    new never loads it), and a reader process rebuilds this object from the name alone.
    """

    __slots__ = ("module", "_held")

    def __init__(self, module: str) -> None:
        self.module = module
        self._held: dict[str, Source] = {}

    def __reduce__(self) -> tuple[type[Sources], tuple[str]]:
        return Sources, (self.module,)

    def __repr__(self) -> str:
        return f"Sources({self.module!r})"

    def get(self, agent: str) -> Source:
        """The source of ``agent`` (one object per agent: sources keep no state)."""
        held = self._held.get(agent)
        if held is None:
            held = self._held[agent] = import_module(self.module).source(agent)
        return held

    def all(self, agents: Collection[str] | None = None) -> list[Source]:
        """The sources of ``agents`` (None: every one), in display order."""
        return [self.get(a) for a in AGENTS if agents is None or a in agents]

    def prepare(self) -> None:
        """Load what reading needs, once, before reader processes are forked (they inherit it)."""
        import_module(self.module).prepare()
