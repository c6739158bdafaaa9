"""The normalised usage record every source emits, and the bucket arithmetic on it."""

# No ``from __future__ import annotations`` here: NamedTuple would compile each field's annotation
# string (a millisecond and a half of every start); these annotations are plain classes.
from typing import NamedTuple

BUCKETS = ("in", "cw", "cr", "out", "rsn")  # the token buckets every document names, in this order


QUARTER_MS = 900_000  # reports sum calls per UTC quarter hour: every UTC offset in use is a whole number of them


class UsageEvent(NamedTuple):
    """One billed model call.

    ``key`` de-duplicates copies of the same call across files; when two copies meet,
    the one with the higher ``prio`` wins (each source defines what "better" means).
    ``cw1h`` is the part of ``cw`` written with the 1-hour cache TTL (priced higher).
    ``rsn`` is informational: it is already inside ``out``.
    """

    key: str
    prio: int
    agent: str
    ts: int  # epoch milliseconds, UTC
    model: str
    session: str
    project: str
    inp: int
    cw: int
    cr: int
    out: int
    rsn: int = 0
    cw1h: int = 0


class Totals:
    """Summed buckets plus cost. ``unpriced`` counts tokens of models without a price."""

    __slots__ = ("inp", "cw", "cr", "out", "rsn", "cost", "unpriced", "calls")

    def __init__(
        self,
        inp: int = 0,
        cw: int = 0,
        cr: int = 0,
        out: int = 0,
        rsn: int = 0,
        cost: float = 0.0,
        unpriced: int = 0,
        calls: int = 0,
    ) -> None:
        self.inp, self.cw, self.cr, self.out, self.rsn = inp, cw, cr, out, rsn
        self.cost, self.unpriced, self.calls = cost, unpriced, calls

    def _fields(self) -> tuple[int | float, ...]:
        return (self.inp, self.cw, self.cr, self.out, self.rsn, self.cost, self.unpriced, self.calls)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Totals) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable sums are not hashable

    def __repr__(self) -> str:
        return "Totals(" + ", ".join(f"{k}={v!r}" for k, v in zip(self.__slots__, self._fields(), strict=True)) + ")"

    @property
    def total(self) -> int:
        return self.inp + self.cw + self.cr + self.out

    @property
    def cache_hit_rate(self) -> float | None:
        """Share of prompt tokens served from cache: cr / (in + cw + cr)."""
        prompt = self.inp + self.cw + self.cr
        return self.cr / prompt if prompt else None

    def add(self, other: "Totals") -> None:
        self.inp += other.inp
        self.cw += other.cw
        self.cr += other.cr
        self.out += other.out
        self.rsn += other.rsn
        self.cost += other.cost
        self.unpriced += other.unpriced
        self.calls += other.calls

    def as_dict(self) -> dict[str, int | float | None]:
        """The JSON form: the five buckets, total, ``cost_usd`` (None when no token is priced), hit rate."""
        inp, cw, cr, out = self.inp, self.cw, self.cr, self.out  # reports call this per day, agent and model
        prompt = inp + cw + cr
        return {
            "in": inp,
            "cw": cw,
            "cr": cr,
            "out": out,
            "rsn": self.rsn,
            "total": prompt + out,
            # none of these tokens has a price: unknown, never $0 (some unpriced: the priced part, a lower bound)
            "cost_usd": None if self.unpriced and self.unpriced == prompt + out else round(self.cost, 6),
            "unpriced_tokens": self.unpriced,
            "calls": self.calls,
            "cache_hit_rate": round(cr / prompt, 6) if prompt else None,
        }


def dedupe(events: list[UsageEvent]) -> dict[str, UsageEvent]:
    """The surviving copy per key: a higher ``prio`` replaces, a tie keeps the first seen.

    This is the index's rule (``ON CONFLICT … WHERE excluded.prio > prio``) as a pure function.
    """
    kept: dict[str, UsageEvent] = {}
    for event in events:
        held = kept.get(event.key)
        if held is None or event.prio > held.prio:
            kept[event.key] = event
    return kept
