"""Insights: model switches and expired caches that re-paid a session's prefix, and their extra cost.

Extra costs are computed by hand from genai-prices' per-million rates (Sonnet 4.5: input 3.00,
5-minute cache write 3.75, 1-hour cache write 6.00, cache read 0.30) and checked against
``genai_prices.calc_price``: the call as billed minus the same call with the re-paid tokens
read from cache.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from genai_prices import Usage, calc_price

from app.core import insights, reports
from app.core.index import Index
from tests.burn_dataset import write_burn_home
from tests.logmaker import claude_line

OPUS = "claude-opus-4-5-20251101"
SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
UTC = ZoneInfo("UTC")


def price(model: str, inp: int, cw: int, cr: int, out: int, cw1h: int = 0) -> float:
    usage = Usage(
        input_tokens=inp + cw + cr,
        cache_write_tokens=cw,
        cache_write_1h_tokens=cw1h,
        cache_read_tokens=cr,
        output_tokens=out,
    )
    return float(calc_price(usage, model).total_price)


def line_1h(msg: str, ts: str, **kw: Any) -> bytes:
    """A Claude Code line whose cache write is all 1-hour TTL."""
    record = orjson.loads(claude_line(msg, ts, **kw))
    usage = record["message"]["usage"]
    usage["cache_creation"] = {
        "ephemeral_5m_input_tokens": 0,
        "ephemeral_1h_input_tokens": usage["cache_creation_input_tokens"],
    }
    return orjson.dumps(record) + b"\n"


def write(home: Path, session: str, lines: list[bytes]) -> None:
    path = home / ".claude" / "projects" / "-home-dev-proj" / f"{session}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(lines))


@pytest.fixture
def index(tmp_path: Path, indexed: Callable[[Path], Index]) -> Index:
    home = tmp_path / "home"
    day = "2026-11-20T"
    write(
        home,
        "switch",
        [
            claude_line("w1", day + "10:00:00Z", inp=10, cw=20_000, model=OPUS, session="switch"),
            claude_line("w2", day + "10:01:00Z", inp=10, cw=2_000, cr=20_000, model=OPUS, session="switch"),
            # Claude Code's title call on haiku: no cache, a sliver of the context, not a switch
            claude_line("w3", day + "10:01:30Z", inp=300, out=40, model=HAIKU, session="switch"),
            claude_line("w4", day + "10:02:00Z", inp=50, cw=23_000, model=SONNET, session="switch"),
            claude_line("w5", day + "10:02:40Z", inp=50, cw=500, cr=23_000, model=SONNET, session="switch"),
        ],
    )
    for gap in (4, 6):
        write(
            home,
            f"gap{gap}",
            [
                claude_line(f"g{gap}a", day + "11:00:00Z", inp=10, cw=30_000, session=f"gap{gap}"),
                claude_line(f"g{gap}b", day + "11:01:00Z", inp=10, cw=1_000, cr=30_000, session=f"gap{gap}"),
                claude_line(f"g{gap}c", day + f"11:{1 + gap:02d}:00Z", inp=10, cw=31_500, session=f"gap{gap}"),
            ],
        )
    write(
        home,
        "hour",
        [
            line_1h("h1", day + "12:00:00Z", inp=10, cw=40_000, session="hour"),
            line_1h("h2", day + "12:01:00Z", inp=10, cr=40_000, session="hour"),  # a read keeps the 1h lifetime
            line_1h("h3", day + "12:31:00Z", inp=10, cw=40_500, session="hour"),  # idle 30 min: still alive
            line_1h("h4", day + "13:32:00Z", inp=10, cw=41_000, session="hour"),  # idle 61 min: expired
        ],
    )
    write(
        home,
        "house",
        [
            claude_line("u1", day + "14:00:00Z", inp=10, cw=10_000, model="house-model-9", session="house"),
            claude_line("u2", day + "14:10:00Z", inp=10, cw=10_200, model="house-model-9", session="house"),
        ],
    )
    write(  # the previous call is on the day before: a report from 2026-11-20 still sees it
        home,
        "night",
        [
            claude_line("n1", "2026-11-19T23:58:00Z", inp=10, cw=20_000, session="night"),
            claude_line("n2", "2026-11-20T00:10:00Z", inp=10, cw=20_100, session="night"),
        ],
    )
    return indexed(home)


def by_session(index: Index, flt: reports.Filter | None = None) -> dict[str, dict[str, object]]:
    doc = insights.report(index.conn, flt or reports.Filter(tz=UTC), overrides=index.overrides)
    found = {str(i["session"]): i for i in doc["insights"]}
    assert len(found) == len(doc["insights"]) == doc["totals"]["count"]
    return found


def test_a_switch_re_pays_the_prefix_and_the_haiku_side_call_is_no_switch(index: Index) -> None:
    switch = by_session(index)["switch"]
    # sonnet paid 23,050 uncached; 22,000 of it was cached on opus (w2: cr 20,000 + cw 2,000)
    assert switch == {
        "kind": "model-switch",
        "agent": "claude-code",
        "session": "switch",
        "project": "/home/dev/proj",
        "ts": "2026-11-20T10:02:00Z",
        "model": SONNET,
        "previous_model": OPUS,
        "idle_minutes": None,
        "tokens": 22_000,
        "extra_cost_usd": pytest.approx(22_000 * (3.75 - 0.30) / 1e6),
        "summary": "Switched claude-opus-4-5 → claude-sonnet-4-5 and re-paid 22K cached tokens uncached (+$0.076)",
    }
    assert switch["extra_cost_usd"] == pytest.approx(
        price(SONNET, 50, 23_000, 0, 100) - price(SONNET, 50, 1_000, 22_000, 100)
    )


def test_an_idle_gap_past_five_minutes_is_an_expiry_and_four_minutes_is_not(index: Index) -> None:
    found = by_session(index)
    assert "gap4" not in found
    expired = found["gap6"]
    assert expired["kind"] == "cache-expired" and expired["previous_model"] is None
    assert expired["idle_minutes"] == 6.0 and expired["model"] == SONNET
    assert expired["tokens"] == 31_000
    assert expired["extra_cost_usd"] == pytest.approx(31_000 * (3.75 - 0.30) / 1e6)
    assert expired["extra_cost_usd"] == pytest.approx(
        price(SONNET, 10, 31_500, 0, 100) - price(SONNET, 10, 500, 31_000, 100)
    )
    assert expired["summary"] == (
        "Idle 6 min, past the 5-minute cache lifetime of claude-sonnet-4-5,"
        " then re-paid 31K cached tokens uncached (+$0.11)"
    )


def test_a_one_hour_cache_outlives_thirty_idle_minutes(index: Index) -> None:
    expired = [i for i in insights.report(index.conn, reports.Filter(tz=UTC))["insights"] if i["session"] == "hour"]
    assert len(expired) == 1
    (hour,) = expired
    assert hour["ts"] == "2026-11-20T13:32:00Z" and hour["idle_minutes"] == 61.0
    assert hour["tokens"] == 40_500
    assert hour["extra_cost_usd"] == pytest.approx(40_500 * (6.00 - 0.30) / 1e6)
    assert hour["extra_cost_usd"] == pytest.approx(
        price(SONNET, 10, 41_000, 0, 100, cw1h=41_000) - price(SONNET, 10, 500, 40_500, 100, cw1h=500)
    )
    assert "1-hour cache lifetime" in str(hour["summary"])


def test_an_unpriced_model_reports_tokens_without_a_cost(index: Index) -> None:
    house = by_session(index)["house"]
    assert house["tokens"] == 10_000 and house["extra_cost_usd"] is None
    assert str(house["summary"]).endswith("re-paid 10K cached tokens uncached (unpriced)")


def test_document_newest_first_with_totals(index: Index) -> None:
    doc = insights.report(index.conn, reports.Filter(tz=UTC), overrides=index.overrides)
    assert [i["session"] for i in doc["insights"]] == ["house", "hour", "gap6", "switch", "night"]
    priced = 22_000 * 3.45e-6 + 31_000 * 3.45e-6 + 40_500 * 5.7e-6 + 20_000 * 3.45e-6
    assert doc["totals"]["count"] == 5
    assert doc["totals"]["tokens"] == 22_000 + 31_000 + 40_500 + 10_000 + 20_000
    assert doc["totals"]["extra_cost_usd"] == pytest.approx(priced, abs=1e-6)
    assert doc["tz"] == "UTC" and doc["price_source"]["name"].startswith("genai-prices")


def test_agent_and_date_filters(index: Index) -> None:
    assert by_session(index, reports.Filter(tz=UTC, agents=frozenset({"codex"}))) == {}
    assert set(by_session(index, reports.Filter(tz=UTC, agents=frozenset({"claude-code"})))) == {
        "switch",
        "gap6",
        "hour",
        "house",
        "night",
    }
    day = date(2026, 11, 20)
    assert "night" in by_session(index, reports.Filter(tz=UTC, since=day, until=day))
    assert by_session(index, reports.Filter(tz=UTC, until=date(2026, 11, 19))) == {}
    assert by_session(index, reports.Filter(tz=UTC, since=date(2026, 11, 21))) == {}
    # in Sydney (UTC+11) the 10:02Z switch falls on 2026-11-20 at 21:02, the 13:32Z expiry on the 21st
    sydney = ZoneInfo("Australia/Sydney")
    assert set(by_session(index, reports.Filter(tz=sydney, since=date(2026, 11, 21)))) == {"hour", "house"}


def test_burn_dataset_holds_exactly_the_two_planted_insights(tmp_path: Path, indexed: Callable[[Path], Index]) -> None:
    write_burn_home(tmp_path / "home", days=120, end=date(2026, 11, 20))
    index = indexed(tmp_path / "home")
    doc = insights.report(index.conn, reports.Filter(tz=UTC), overrides=index.overrides)
    assert [(i["kind"], i["session"], i["ts"], i["tokens"]) for i in doc["insights"]] == [
        ("cache-expired", "insight-idle", "2026-11-20T06:31:00Z", 157_000),
        ("model-switch", "insight-switch", "2026-11-20T06:02:00Z", 187_000),
    ]
    idle, switch = doc["insights"]
    assert switch["previous_model"] == OPUS and switch["model"] == SONNET
    assert switch["extra_cost_usd"] == pytest.approx(187_000 * 3.45e-6)
    assert switch["extra_cost_usd"] == pytest.approx(
        price(SONNET, 300, 187_000, 0, 700) - price(SONNET, 300, 0, 187_000, 700)
    )
    assert idle["idle_minutes"] == 30.0
    assert idle["extra_cost_usd"] == pytest.approx(157_000 * 3.45e-6)
    # reading only the sessions that may hold one finds what reading every call finds
    every = index.conn.execute(
        "SELECT agent, session, ts, model, project, inp, cw, cr, cw1h FROM events ORDER BY agent, session, ts, id"
    )
    assert len(list(insights.find(insights.Call._make(r) for r in every))) == 2
