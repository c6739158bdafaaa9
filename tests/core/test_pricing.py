"""Prices per request, equal to genai-prices' own calculation; overrides; unpriced never $0."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from genai_prices import Usage, calc_price

from app.core import price_table, pricing, reports
from app.core.env import Env
from app.core.index import Index
from app.core.model import UsageEvent
from app.core.pricing import PriceError, Pricer, load_overrides
from app.core.schema import connect
from app.sources import SOURCES
from tests.logmaker import claude_line


def event(model: str, inp: int, cw: int, cr: int, out: int, cw1h: int = 0) -> UsageEvent:
    return UsageEvent("k", 0, "claude-code", 1_795_000_000_000, model, "s", "p", inp, cw, cr, out, 0, cw1h)


@pytest.fixture
def pricer(tmp_path: Path) -> Pricer:
    return Pricer(connect(tmp_path / "i.sqlite"), None)


@pytest.mark.parametrize(
    ("model", "inp", "cw", "cr", "out", "cw1h"),
    [
        ("claude-sonnet-4-5-20250929", 4, 12000, 0, 412, 0),
        ("claude-sonnet-4-5-20250929", 6, 1500, 12000, 230, 1000),  # 1h cache writes priced apart
        ("claude-sonnet-4-5-20250929", 150_000, 40_000, 100_000, 2_000, 0),  # past the 200k long-context tier
        ("claude-opus-4-5-20251101", 3, 800, 13500, 95, 0),
        ("gpt-5.1-codex-max", 700, 0, 8800, 610, 0),
        ("gemini-2.5-pro", 150_000, 0, 60_000, 900, 0),  # tiered at 200k too
    ],
)
def test_matches_genai_prices(pricer: Pricer, model: str, inp: int, cw: int, cr: int, out: int, cw1h: int) -> None:
    ours = pricer.cost(event(model, inp, cw, cr, out, cw1h))
    usage = Usage(
        input_tokens=inp + cw + cr,
        cache_write_tokens=cw,
        cache_write_1h_tokens=cw1h,
        cache_read_tokens=cr,
        output_tokens=out,
    )
    theirs = float(calc_price(usage, model).total_price)
    assert ours == pytest.approx(theirs, rel=1e-12)


def test_long_context_tier_applies_per_request(pricer: Pricer) -> None:
    """One 300k-token request costs more than twenty 15k ones: price, then sum."""
    one = pricer.cost(event("claude-sonnet-4-5", 300_000, 0, 0, 0))
    twenty = 20 * (pricer.cost(event("claude-sonnet-4-5", 15_000, 0, 0, 0)) or 0)
    assert one == pytest.approx(1.8) and twenty == pytest.approx(0.9)


def test_unknown_model_is_unpriced_not_free(tmp_path: Path) -> None:
    home = tmp_path / "home"
    d = home / ".claude/projects/p"
    d.mkdir(parents=True)
    (d / "s.jsonl").write_bytes(
        claude_line("m1", "2026-11-20T10:00:00Z", model="house-model-9") + claude_line("m2", "2026-11-20T10:00:01Z")
    )
    index = Index(tmp_path / "i.sqlite", overrides=tmp_path / "none.toml", sources=SOURCES)
    index.refresh(Env.under(home))
    doc = reports.daily(index.conn, reports.Filter())
    assert doc["unpriced_models"] == ["house-model-9"]
    assert doc["totals"]["unpriced_tokens"] == 110
    assert doc["totals"]["cost_usd"] > 0
    assert doc["price_source"]["name"].startswith("genai-prices")
    assert doc["price_source"]["data_date"]


def test_overrides_price_a_model_and_costs_follow_a_change(tmp_path: Path) -> None:
    home = tmp_path / "home"
    d = home / ".claude/projects/p"
    d.mkdir(parents=True)
    (d / "s.jsonl").write_bytes(claude_line("m1", "2026-11-20T10:00:00Z", model="qwen3-coder-plus", inp=1_000_000))
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."qwen3-coder-*"]\ninput_mtok = 2.0\noutput_mtok = 10.0\n')
    index = Index(tmp_path / "i.sqlite", overrides=prices, sources=SOURCES)
    index.refresh(Env.under(home))
    assert reports.daily(index.conn, reports.Filter())["totals"]["cost_usd"] == pytest.approx(2.001)
    prices.write_text('[models."qwen3-coder-plus"]\ninput_mtok = 1.0\noutput_mtok = 10.0\n')
    index.refresh(Env.under(home))  # nothing new to read, but every stored cost is recomputed
    assert reports.daily(index.conn, reports.Filter())["totals"]["cost_usd"] == pytest.approx(1.001)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[models.x\n", "prices.toml"),
        ('[models."x"]\ninput = 1\n', "unknown price"),
        ('[models."x"]\ninput_mtok = -1\n', "non-negative"),
    ],
)
def test_bad_overrides_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    with pytest.raises(PriceError, match=message):
        load_overrides(path)


def test_rates_are_cached_in_the_index(tmp_path: Path) -> None:
    conn = connect(tmp_path / "i.sqlite")
    Pricer(conn, None).cost(event("claude-opus-4-5", 1, 0, 0, 1))
    ((model, blob),) = conn.execute("SELECT model, schedule FROM rates").fetchall()
    assert model == "claude-opus-4-5" and blob
    assert Pricer(conn, None).schedule("claude-opus-4-5") is not None  # read back without the price data


def test_pricing_rows_in_bulk_equals_one_by_one(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."house-*"]\ninput_mtok = 1.0\noutput_mtok = 5.0\n', encoding="utf-8")
    pricer = Pricer(connect(tmp_path / "i.sqlite"), prices)
    # a model whose price changed over time, tiered ones, an override, an unknown one
    pricer._schedules["dated"] = [(0, {"inp": (1.0, ())}), (1_700_000_000_000, {"inp": (2.0, ((10, 3.0),))})]
    models = ["claude-sonnet-4-5-20250929", "gemini-2.5-pro", "house-model", "no-such-model-xyz", "dated"]
    rng = random.Random(5)
    rows = [
        (i, 0, "a", rng.choice([1_600_000_000_000, 1_800_000_000_000]), model, "s", "p",
         rng.randrange(300_000), rng.randrange(50_000), rng.randrange(200_000), rng.randrange(9_000), 0, 0)
        for i, model in enumerate(sorted(rng.choice(models) for _ in range(400)))
    ]  # fmt: skip
    assert pricer.priced(rows) == [(*row, pricer.cost(row)) for row in rows]
    assert any(r[-1] is None for r in pricer.priced(rows))


_BARE_CHECK = """
import json, sys
from app.core import pricing
models = ["claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101", "gpt-5.1-codex-max", "gemini-2.5-pro",
          "no-such-model"]
with pricing.bare_genai_prices():
    bare = [pricing.genai_prices_schedule(m) for m in models]
heavy = sorted(m for m in sys.modules if m == "genai_prices" or m.split(".")[0] in ("httpx2", "httpx", "asyncio"))
import genai_prices  # the real package now: its __init__ runs and finds the submodules loaded
from genai_prices import Usage, calc_price
full = [pricing.genai_prices_schedule(m) for m in models]
usage = Usage(input_tokens=250_000, cache_write_tokens=1000, cache_read_tokens=9000, output_tokens=700)
priced = float(calc_price(usage, models[0]).total_price)
print(json.dumps({"heavy": heavy, "same": bare == full, "some": sum(s is not None for s in bare), "priced": priced}))
"""


def test_price_data_loads_without_the_package_init() -> None:
    """A cold index loads genai-prices' data without its auto-updater (HTTP client, asyncio); same schedules."""
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _BARE_CHECK], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2]
    ).stdout
    got = json.loads(out)
    assert got["heavy"] == []
    assert got["same"] is True and got["some"] == 4
    assert got["priced"] > 0


def test_price_table_answers_as_genai_prices_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table built for the installed genai-prices gives every name the schedule asking genai-prices gives."""
    monkeypatch.setenv("TOKENCLUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(price_table, "_loaded", [])
    table = price_table.load()
    assert table is not None
    assert price_table.table_path(price_table.digest(price_table.data_file())).exists()  # type: ignore[arg-type]
    names = table.models()
    assert len(names) > 1000 and table.model_ids() > 100
    priced = 0
    with pricing.bare_genai_prices():
        for name in names:
            raw = table.raw_schedule(name)
            asked = pricing.genai_prices_schedule(name)
            assert (None if raw is None else pricing.decode_schedule(raw)) == asked, name
            priced += asked is not None
    assert priced > 1000


def test_price_table_follows_the_price_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table of other price data (an upgrade of genai-prices) is not used: one is built for this data."""
    import orjson

    monkeypatch.setenv("TOKENCLUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(price_table, "_loaded", [])
    doc = price_table.build()
    model = "claude-sonnet-4-5-20250929"
    stale = dict(doc, digest="0" * 32)
    stale["schedules"] = [[[0, {"inp": [1000.0, []]}]]] * len(doc["schedules"])  # what other data might say
    price_table.save(stale)
    damaged = price_table.table_path(doc["digest"])
    damaged.write_bytes(orjson.dumps(doc)[:500])  # a torn write of this data's table
    got = Pricer(connect(tmp_path / "i.sqlite"), None).cost(event(model, 100_000, 0, 0, 0))
    assert got == pytest.approx(0.3)  # genai-prices' own $3/Mtok, not the other table's
    assert orjson.loads(damaged.read_bytes())["digest"] == doc["digest"]  # rebuilt whole
    assert sorted(p.name for p in damaged.parent.iterdir()) == [damaged.name]  # the other data's table is gone


def test_price_table_written_by_racing_builds_is_whole(tmp_path: Path) -> None:
    """Two processes building at once, and one killed midway, leave a complete table or none."""
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "TOKENCLUB_CACHE": str(tmp_path / "cache")}
    build = [sys.executable, "-m", "app.core.price_table"]
    cwd = Path(__file__).parents[2]
    killed = subprocess.Popen(build, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    racing = [subprocess.Popen(build, env=env, cwd=cwd, stdout=subprocess.DEVNULL) for _ in range(2)]
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=60)
    for proc in racing:
        assert proc.wait(timeout=60) == 0
    tables = [p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]
    assert len(tables) == 1
    import orjson

    assert price_table.PriceTable(orjson.loads(tables[0].read_bytes())).model_ids() > 100


_TABLE_CHECK = """
import json, sys, sqlite3
from app.core import pricing
conn = sqlite3.connect(":memory:")
conn.execute("CREATE TABLE rates(model TEXT PRIMARY KEY, schedule BLOB)")
pricer = pricing.Pricer(conn, None)
models = ["claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101", "claude-haiku-4-5-20251001", "gpt-5.1-codex",
          "gpt-5.1-codex-max", "gemini-2.5-pro"]
priced = [pricer.schedule(m) is not None for m in models]
source = pricer.source()
loaded = sorted(m for m in sys.modules if m.startswith(("genai_prices", "pydantic")) or m == "importlib.metadata")
print(json.dumps({"priced": priced, "loaded": loaded, "source": source}))
"""


def test_common_models_are_priced_without_loading_the_price_data(tmp_path: Path) -> None:
    """Once the table is built for the installed genai-prices (here by a first run in a new cache), pricing the
    names Claude Code, Codex and Gemini CLI write never imports genai-prices' pydantic data."""
    import json
    import os
    import subprocess
    import sys

    def run() -> dict[str, Any]:
        env = {**os.environ, "TOKENCLUB_CACHE": str(tmp_path / "cache")}
        out = subprocess.run(
            [sys.executable, "-c", _TABLE_CHECK],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=Path(__file__).parents[2],
        ).stdout
        return json.loads(out)  # type: ignore[no-any-return]

    first = run()
    assert first["priced"] == [True] * 6
    assert "pydantic" in first["loaded"]  # the first run built the table: the check below can see a load
    got = run()
    assert got["priced"] == [True] * 6
    assert got["loaded"] == []
    from importlib import metadata

    from app.core import pricing

    assert got["source"]["name"] == f"genai-prices {metadata.version('genai-prices')} (bundled, offline)"
    assert got["source"]["data_date"] == pricing._newest_past(pricing.data_dates())  # as read from the data file


def test_qwen_coder_plus_is_priced_from_the_shipped_table_by_tier(pricer: Pricer) -> None:
    """genai-prices has no qwen3-coder-plus; the shipped table prices it, per request, by its input tier."""
    assert pricing.genai_prices_schedule("qwen3-coder-plus") is None
    # 30k-token prompt (<= 32k): 10k in at $1, 20k cache reads at $0.1, 1k out at $5 per million
    assert pricer.cost(event("qwen3-coder-plus", 10_000, 0, 20_000, 1_000)) == pytest.approx(0.017, rel=1e-12)
    # 40k-token prompt (32k-128k tier): in $1.8, cache read $0.18, out $9
    assert pricer.cost(event("qwen3-coder-plus", 20_000, 0, 20_000, 1_000)) == pytest.approx(0.0486, rel=1e-12)
    # cache writes at 125% of input: 4k * $1.25
    assert pricer.cost(event("qwen3-coder-plus", 0, 4_000, 0, 0)) == pytest.approx(0.005, rel=1e-12)
    assert pricer.origin("qwen3-coder-plus") == {
        "source": "tokenclub table",
        "url": "https://www.alibabacloud.com/help/en/model-studio/models",
        "recorded": "2026-12-07",
    }


def test_genai_prices_first_overrides_above_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "own.toml"
    own.write_text(
        '[models."gpt-5-mini"]\nsource = "https://example.invalid/p"\nrecorded = "2026-12-07"\n'
        "input_mtok = 99.0\noutput_mtok = 99.0\n"
    )
    monkeypatch.setattr(pricing, "OWN_PRICES", own)
    monkeypatch.setattr(pricing, "_own", [])
    pricer = Pricer(connect(tmp_path / "i.sqlite"), None)
    assert pricer.origin("gpt-5-mini") == {"source": "genai-prices"}
    assert pricer.cost(event("gpt-5-mini", 1_000_000, 0, 0, 0)) == pytest.approx(0.25)  # genai-prices', not 99
    overrides = tmp_path / "prices.toml"
    overrides.write_text('[models."qwen3-*"]\ninput_mtok = 7.0\noutput_mtok = 7.0\n')
    over = Pricer(connect(tmp_path / "j.sqlite"), overrides)
    assert over.origin("qwen3-coder-flash") == {"source": "overrides", "pattern": "qwen3-*"}
    assert over.cost(event("qwen3-coder-flash", 1_000_000, 0, 0, 0)) == pytest.approx(7.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[models."m"]\nrecorded = "2026-12-07"\ninput_mtok = 1\noutput_mtok = 1\n', "with a source"),
        ('[models."m"]\nsource = "u"\ninput_mtok = 1\noutput_mtok = 1\n', "no recorded date"),
        ('[models."m"]\nsource = "u"\nrecorded = "d"\ninput_mtok = 1\n', "output_mtok are needed"),
        ('[models."m"]\nsource = "u"\nrecorded = "d"\ninput_mtok = 1\noutput_mtok = true\n', "non-negative"),
        (
            '[models."m"]\nsource = "u"\nrecorded = "d"\ninput_mtok = 1\noutput_mtok = 1\n'
            "tiers = [{ input_mtok = 2 }]\n",
            "above > 0",
        ),
    ],
)
def test_a_malformed_own_table_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "own.toml"
    path.write_text(text)
    with pytest.raises(PriceError, match=message):
        pricing.load_own_prices(path)


def test_the_shipped_table_loads_and_names_its_sources() -> None:
    table = pricing.load_own_prices(pricing.OWN_PRICES)
    assert {"qwen3-coder-plus", "qwen3-coder-flash"} <= set(table)
    for own in table.values():
        assert own.source.startswith("https://") and own.recorded
        assert own.rates["inp"][1] and [a for a, _ in own.rates["inp"][1]] == [32_000, 128_000, 256_000]


def test_prices_json_names_the_source_of_each_model(tmp_path: Path) -> None:
    from app.core import price_report

    home = tmp_path / "home"
    d = home / ".claude/projects/p"
    d.mkdir(parents=True)
    (d / "s.jsonl").write_bytes(
        claude_line("m1", "2026-11-20T10:00:00Z", model="qwen3-coder-plus", inp=10_000, out=1_000)
        + claude_line("m2", "2026-11-20T10:00:01Z")
        + claude_line("m3", "2026-11-20T10:00:02Z", model="house-model-9")
    )
    index = Index(tmp_path / "i.sqlite", overrides=tmp_path / "none.toml", sources=SOURCES)
    index.refresh(Env.under(home))
    doc = price_report.build(index.conn, tmp_path / "none.toml")
    by = {m["model"]: m["priced_by"] for m in doc["models"]}
    assert by["qwen3-coder-plus"]["source"] == "tokenclub table"
    assert by["house-model-9"] is None
    assert [u["model"] for u in doc["unpriced_models"]] == ["house-model-9"]
    assert {m["model"] for m in doc["own_table"]["models"]} >= {"qwen3-coder-plus"}
    daily = reports.daily(index.conn, reports.Filter())
    assert daily["unpriced_models"] == ["house-model-9"]
    assert "qwen3-coder-plus: https://www.alibabacloud.com/" in price_report.text(doc)
