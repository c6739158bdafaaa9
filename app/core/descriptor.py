"""What a source says of its agent besides reading its logs: the variables it honours, its colour, how to run it.

Each source class declares one :class:`Descriptor`; the GUI's lists (the variables shown when no log
is found, the charts' fixed colours) and the console's table of headless invocations derive from them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Headless:
    """The agent's CLI in its headless structured-output mode, as the console runs it on a host.

    The goal is never in the argv: the agent reads it from its stdin, a file that ends. ``format``
    names how its stdout reports usage (the host helper's stream parser counts it).
    """

    argv: tuple[str, ...]
    format: str
    model_flag: str = "--model"
    tail: tuple[str, ...] = ()  # after the model flag (codex: "-" reads the prompt from stdin)
    input_includes_cache: bool = False  # its input count includes the cache reads


@dataclass(frozen=True)
class Descriptor:
    env: tuple[str, ...] = ()  # every environment variable its ``roots()`` reads (tested), shown in this order
    colour: str | None = None  # its series colour in the charts; None: a palette slot picked by its name
    headless: Headless | None = None  # None: the console cannot run it
