"""Plan limits: Codex's readings from its rollouts, the account endpoint's answer, pace, and ccusage's blocks."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.core import limits
from app.core.env import Env
from app.core.limits import Block, BurnRate, Pace, Projection, Window
from app.sources import codex_limits


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ms(text: str) -> int:
    return int(at(text).timestamp() * 1000)


def epoch(text: str) -> int:
    return int(at(text).timestamp())


def token_count(ts: str, rate_limits: Any, info: Any = "usage") -> dict[str, Any]:
    usage = {"input_tokens": 100, "cached_input_tokens": 0, "output_tokens": 10, "reasoning_output_tokens": 0}
    payload = {
        "type": "token_count",
        "info": None if info is None else {"total_token_usage": usage, "last_token_usage": usage},
        "rate_limits": rate_limits,
    }
    return {"timestamp": ts + "Z", "type": "event_msg", "payload": payload}


def write_rollout(path: Path, lines: list[dict[str, Any]], mtime: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"timestamp": lines[0]["timestamp"], "type": "session_meta", "payload": {"id": path.stem[-36:]}}
    path.write_text("".join(json.dumps(x, separators=(",", ":")) + "\n" for x in [meta, *lines]))
    os.utime(path, (at(mtime).timestamp(), at(mtime).timestamp()))
    return path


PRO = {
    "primary": {"used_percent": 75.0, "window_minutes": 300, "resets_at": epoch("2026-11-21T12:00:00")},
    "secondary": {"used_percent": 9.0, "window_minutes": 10080, "resets_at": epoch("2026-11-25T00:00:00")},
    "credits": {"has_credits": False, "unlimited": False, "balance": None},
    "plan_type": "pro",
}
ZEROS = {
    "primary": {"used_percent": 0.0, "window_minutes": 300, "resets_at": epoch("2026-11-21T15:00:01")},
    "secondary": {"used_percent": 0.0, "window_minutes": 10080, "resets_at": epoch("2026-11-28T10:00:01")},
    "credits": None,
    "plan_type": "pro",
}
OLDER = {  # an older build: resets relative to the event, no weekly window
    "primary": {"used_percent": 5.0, "window_minutes": 300, "resets_in_seconds": 6000},
    "secondary": None,
    "plan_type": "plus",
}
ID1 = "0199a0b1-c2d3-7e4f-8a9b-0c1d2e3f4a51"
ID2 = "0199a0b1-c2d3-7e4f-8a9b-0c1d2e3f4a52"


@pytest.fixture
def codex_home(tmp_path: Path) -> Path:
    """An older rollout (resets_in_seconds, a null secondary, info: null), and the newest one ending in a zero
    placeholder after a real reading, with its archived copy."""
    base = tmp_path / "codex-home"
    write_rollout(
        base / "sessions/2026/11/20" / f"rollout-2026-11-20T09-00-00-{ID1}.jsonl",
        [
            token_count(
                "2026-11-20T09:00:05.000", {**OLDER, "primary": {**OLDER["primary"], "used_percent": 3.0}}, None
            ),
            token_count("2026-11-20T09:30:00.000", OLDER),
        ],
        "2026-11-20T09:30:00",
    )
    lines = [token_count("2026-11-21T10:00:00.000", PRO), token_count("2026-11-21T10:00:01.000", ZEROS)]
    write_rollout(
        base / "sessions/2026/11/21" / f"rollout-2026-11-21T09-00-00-{ID2}.jsonl", lines, "2026-11-21T10:00:01"
    )
    write_rollout(base / "archived_sessions" / f"rollout-2026-11-21T09-00-00-{ID2}.jsonl", lines, "2026-11-21T10:00:02")
    return base


def env_for(tmp_path: Path, codex_home: Path) -> Env:
    return Env(tmp_path / "nobody", {"CODEX_HOME": str(codex_home)})


def test_newest_reading_skips_the_zero_placeholder(tmp_path: Path, codex_home: Path) -> None:
    found = codex_limits.read(env_for(tmp_path, codex_home))
    read = at("2026-11-21T10:00:00")
    assert found.snapshot is not None
    assert found.snapshot.windows == (
        Window("codex", "pro", "primary", 75.0, 300, at("2026-11-21T12:00:00"), "log", read),
        Window("codex", "pro", "secondary", 9.0, 10080, at("2026-11-25T00:00:00"), "log", read),
    )
    # the older rollout, written before the reading, is never opened (the archived copy may be passed over)
    assert found.files_read < 3
    assert found.path is not None and ID2 in found.path


def test_older_build_resets_in_seconds_null_secondary_and_info_null(tmp_path: Path, codex_home: Path) -> None:
    for stale in codex_home.rglob(f"*{ID2}*"):
        stale.unlink()
    found = codex_limits.read(env_for(tmp_path, codex_home))
    read = at("2026-11-20T09:30:00")
    assert found.snapshot is not None
    assert found.snapshot.windows == (
        Window("codex", "plus", "primary", 5.0, 300, read + timedelta(seconds=6000), "log", read),
    )
    first = codex_limits._tail_snapshots(str(next(codex_home.rglob("*.jsonl"))))[0][-1]
    assert first.windows[0].used_percent == 3.0  # the info: null event's reading counts too
    assert first.windows[0].resets_at == at("2026-11-20T09:00:05") + timedelta(seconds=6000)


def test_newest_reading_may_be_in_an_archived_rollout(tmp_path: Path, codex_home: Path) -> None:
    newer = {**PRO, "primary": {**PRO["primary"], "used_percent": 80.0}}
    write_rollout(
        codex_home / "archived_sessions" / "rollout-2026-11-21T10-30-00-0199a0b1-c2d3-7e4f-8a9b-0c1d2e3f4a53.jsonl",
        [token_count("2026-11-21T10:30:00.000", newer)],
        "2026-11-21T10:30:00",
    )
    found = codex_limits.read(env_for(tmp_path, codex_home))
    assert found.snapshot is not None and found.snapshot.windows[0].used_percent == 80.0
    assert found.path is not None and "archived_sessions" in found.path


def test_zeros_after_every_window_reset_are_the_state(tmp_path: Path) -> None:
    """A 0% reading is a placeholder only while an earlier real reading's windows are still open."""
    real = limits.parse_rate_limits(OLDER, at("2026-11-20T09:30:00"))  # primary resets 11:10
    zero_late = limits.parse_rate_limits(ZEROS, at("2026-11-21T10:00:01"))
    zero_soon = limits.parse_rate_limits(ZEROS, at("2026-11-20T09:30:01"))
    assert real is not None and zero_late is not None and zero_soon is not None
    assert limits.newest_snapshot([real, zero_late]) is zero_late
    assert limits.newest_snapshot([zero_soon, real]) is real
    assert limits.newest_snapshot([zero_soon]) is zero_soon  # nothing before it: a fresh window
    assert limits.newest_snapshot([]) is None


@pytest.mark.parametrize(
    "rate_limits",
    [
        None,
        "x",
        {"primary": None, "secondary": None},
        {"primary": {"used_percent": "12"}},
        {"primary": {"used_percent": float("nan")}},
        {"primary": {"used_percent": -1}},
        {"primary": {"used_percent": 1e9}},
        {"primary": {"used_percent": True}},
    ],
)
def test_malformed_readings_are_no_windows(rate_limits: Any) -> None:
    assert limits.parse_rate_limits(rate_limits, at("2026-11-21T10:00:00")) is None


def test_implausible_reset_and_length_are_unknown() -> None:
    snap = limits.parse_rate_limits(
        {"primary": {"used_percent": 10, "window_minutes": -5, "resets_at": 2**40, "resets_in_seconds": -1}},
        at("2026-11-21T10:00:00"),
    )
    assert snap is not None and snap.windows[0].window_minutes is None and snap.windows[0].resets_at is None


def test_garbage_and_huge_lines_in_a_rollout_are_passed_over(tmp_path: Path) -> None:
    base = tmp_path / "codex-home"
    path = write_rollout(
        base / "sessions/2026/11/21" / f"rollout-2026-11-21T09-00-00-{ID2}.jsonl",
        [token_count("2026-11-21T10:00:00.000", PRO)],
        "2026-11-21T10:00:00",
    )
    with open(path, "ab") as f:
        f.write(b'{"type":"event_msg","rate_limits":{' + b"x" * (2 * 1024 * 1024) + b"\n")
        f.write(b'{"timestamp":"bad","type":"event_msg","payload":{"type":"token_count","rate_limits":{}}}\n')
        f.write(b'not json "rate_limits":{"primary"\n')
    found = codex_limits.read(env_for(tmp_path, base))
    assert found.snapshot is not None and found.snapshot.windows[0].used_percent == 75.0
    assert found.bytes_read <= codex_limits.MAX_TAIL_BYTES


def test_zst_archived_rollout_is_read(tmp_path: Path) -> None:
    import zstandard

    base = tmp_path / "codex-home"
    plain = write_rollout(
        base / "archived_sessions" / f"rollout-2026-11-21T09-00-00-{ID2}.jsonl",
        [token_count("2026-11-21T10:00:00.000", PRO)],
        "2026-11-21T10:00:00",
    )
    plain.with_name(plain.name + ".zst").write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))
    plain.unlink()
    found = codex_limits.read(env_for(tmp_path, base))
    assert found.snapshot is not None and found.snapshot.windows[1].name == "secondary"


# -- the account endpoint's answer ---------------------------------------------------------------------------

ANSWER = Path(__file__).parent.parent / "fixtures" / "provider-responses" / "claude_oauth_usage.json"


def test_account_answer_windows() -> None:
    read = at("2026-11-21T10:00:00")
    got = limits.account_windows(json.loads(ANSWER.read_text()), read, "max")
    assert got == [
        Window("claude-code", "max", "5h", 61.0, 300, at("2026-11-21T12:59:59.571404"), "account endpoint", read),
        Window("claude-code", "max", "weekly", 22.0, 10080, at("2026-11-25T08:59:59.571468"), "account endpoint", read),
        Window(
            "claude-code",
            "max",
            "weekly (sonnet)",
            4.0,
            10080,
            at("2026-11-25T08:59:59.571481"),
            "account endpoint",
            read,
        ),
    ]
    with pytest.raises(ValueError):
        limits.account_windows([], read)


# -- pace ----------------------------------------------------------------------------------------------------


def window(used: float, read: str, resets: str | None = "2026-11-21T12:00:00", minutes: int | None = 300) -> Window:
    return Window("codex", "", "primary", used, minutes, None if resets is None else at(resets), "log", at(read))


def test_pace() -> None:
    now = at("2026-11-21T10:05:00")
    # 75% in the 3 h since 07:00: 100% at 11:00, an hour before the 12:00 reset
    assert limits.pace(window(75.0, "2026-11-21T10:00:00"), now) == Pace(
        "full-before-reset", at("2026-11-21T11:00:00"), timedelta(hours=1)
    )
    # 25% in 3 h: 41.7% of the plan at the reset
    assert limits.pace(window(25.0, "2026-11-21T10:00:00"), now) == Pace("lasts", percent_at_reset=41.7)
    assert limits.pace(window(100.0, "2026-11-21T10:00:00"), now) == Pace("full")
    assert limits.pace(window(50.0, "2026-11-21T06:00:00", "2026-11-21T10:00:00"), now) == Pace("reset")
    assert limits.pace(window(50.0, "2026-11-21T10:00:00", None), now) == Pace("unknown")
    assert limits.pace(window(50.0, "2026-11-21T10:00:00", minutes=None), now) == Pace("unknown")
    assert limits.pace(window(0.0, "2026-11-21T10:00:00"), now) == Pace("lasts", percent_at_reset=0.0)


def test_window_document_has_local_and_utc_times_and_the_reading_age() -> None:
    from zoneinfo import ZoneInfo

    now = at("2026-11-21T10:05:00")
    doc = limits.window_dict(window(75.0, "2026-11-21T10:00:00"), now, ZoneInfo("Europe/Paris"))
    assert doc == {
        "agent": "codex",
        "account": "",
        "name": "primary",
        "used_percent": 75.0,
        "window_minutes": 300,
        "resets_at": "2026-11-21T12:00:00.000Z",
        "resets_at_local": "2026-11-21T13:00:00+01:00",
        "source": "log",
        "read_at": "2026-11-21T10:00:00.000Z",
        "age_seconds": 300,
        "pace": {
            "state": "full-before-reset",
            "full_at": "2026-11-21T11:00:00.000Z",
            "full_at_local": "2026-11-21T12:00:00+01:00",
            "before_reset_seconds": 3600,
            "percent_at_reset": None,
        },
    }


def test_tightest_window_ignores_reset_ones() -> None:
    now = at("2026-11-21T10:05:00")
    old = window(90.0, "2026-11-21T06:00:00", "2026-11-21T10:00:00")
    live = window(40.0, "2026-11-21T10:00:00")
    assert limits.tightest([old, live], now) is live
    assert limits.tightest([], now) is None


# -- blocks ----------------------------------------------------------------------------------------------------


def call(ts: str, inp: int = 10, out: int = 100, cost: float | None = 0.5, model: str = "m1") -> tuple[Any, ...]:
    return (ms(ts), inp, 0, 0, out, cost, model)


def test_blocks_as_ccusage_defines_them() -> None:
    calls = [
        call("2026-11-21T08:10:00"),
        call("2026-11-21T08:50:00", model="m2"),
        call("2026-11-21T13:00:00", cost=None),  # exactly 5 h after the block's start: still in it
        call("2026-11-21T13:00:01"),  # past the block's end, 1 s after the last call: a new block at 13:00
        call("2026-11-21T19:00:00"),  # 5 h 59 min after the last call: a gap, then a block at 19:00
        call("2026-11-21T19:20:00", inp=20, out=1980, cost=1.5),
    ]
    now = at("2026-11-21T19:30:00")
    got = limits.blocks(calls, now)
    assert got == [
        Block(
            at("2026-11-21T08:00:00"), at("2026-11-21T13:00:00"), at("2026-11-21T13:00:00"),
            False, False, 3, 30, 0, 0, 300, 1.0, 110, ("m1", "m2"),
            BurnRate(330 / 290, 330 / 290, 1.0 / 290 * 60), None,
        ),
        Block(
            at("2026-11-21T13:00:00"), at("2026-11-21T18:00:00"), at("2026-11-21T13:00:01"),
            False, False, 1, 10, 0, 0, 100, 0.5, 0, ("m1",), None, None,
        ),
        Block(
            at("2026-11-21T18:00:01"), at("2026-11-21T19:00:00"), None,
            False, True, 0, 0, 0, 0, 0, 0.0, 0, (), None, None,
        ),
        Block(
            at("2026-11-21T19:00:00"), at("2026-11-22T00:00:00"), at("2026-11-21T19:20:00"),
            True, False, 2, 30, 0, 0, 2080, 2.0, 0, ("m1",),
            BurnRate(2110 / 20, 2110 / 20, 2.0 / 20 * 60),
            # 270 minutes left at 105.5 tokens and $0.10 a minute
            Projection(2110 + round(105.5 * 270), round(2.0 + 0.1 * 270, 2), 270),
        ),
    ]  # fmt: skip
    doc = limits.block_dict(got[0])
    assert doc["id"] == "2026-11-21T08:00:00.000Z" and doc["burnRate"] is None  # ccusage: the active block's only
    assert limits.block_dict(got[2])["id"] == "gap-2026-11-21T18:00:01.000Z"
    assert limits.block_dict(got[3])["projection"] == {"totalTokens": 30595, "totalCost": 29.0, "remainingMinutes": 270}
    assert limits.blocks([], now) == []


def test_a_block_is_not_active_five_hours_after_its_last_call() -> None:
    calls = [call("2026-11-21T08:10:00"), call("2026-11-21T08:20:00")]
    assert limits.blocks(calls, at("2026-11-21T12:59:59"))[0].is_active
    assert not limits.blocks(calls, at("2026-11-21T13:00:00"))[0].is_active  # the block's end


def test_a_block_whose_hour_precedes_the_gap_before_it_comes_first() -> None:
    """The gap starts 5 h after the last call (13:10), the next block at its first call's hour (13:00)."""
    got = limits.blocks([call("2026-11-21T08:10:00"), call("2026-11-21T13:30:00")], at("2026-11-22T00:00:00"))
    assert [(b.start, b.is_gap) for b in got] == [
        (at("2026-11-21T08:00:00"), False),
        (at("2026-11-21T13:00:00"), False),
        (at("2026-11-21T13:10:00"), True),
    ]


def test_limit_settings() -> None:
    from app.core import settings

    s = settings.from_dict(
        {"limit_alerts": [70, 90], "limits_account": True, "limits_account_url": "http://127.0.0.1:9/"}
    )
    assert (s.limit_alerts, s.limits_account, s.limits_account_url, s.ring_follows_limits) == (
        (70, 90),
        True,
        "http://127.0.0.1:9",
        False,
    )
    assert settings.from_dict(s.as_dict()) == s
    defaults = settings.Settings()
    assert (defaults.limit_alerts, defaults.limits_account) == ((80, 95), False)
    assert settings.updated(defaults, {"limit_alerts": "85, 99%", "ring_follows_limits": "on"}).limit_alerts == (85, 99)
    for key, bad in (
        ("limit_alerts", "95,80"),
        ("limit_alerts", "0"),
        ("limit_alerts", "1,2,3,4,5"),
        ("limit_alerts", "lots"),
        ("limits_account_url", "ftp://example.com"),
        ("limits_account_url", "https://user:pw@example.com"),
        ("limits_account", "maybe"),
    ):
        with pytest.raises(settings.InvalidSettings):
            settings.updated(defaults, {key: bad})


def test_current_block_reads_back_to_the_gap_that_fixes_its_start(tmp_path: Path) -> None:
    """Calls every 200 min for 3 days: each block's start depends on the one before, back to the first call."""
    from app.core.index import Index
    from app.sources import SOURCES
    from tests.logmaker import claude_line

    now = at("2026-12-07T02:52:00")
    first = now - timedelta(days=3, minutes=17)
    times = [first + timedelta(minutes=200 * i) for i in range(22)] + [now - timedelta(minutes=3)]
    project = tmp_path / "home" / ".claude" / "projects" / "-p"
    project.mkdir(parents=True)
    stamp = [t.isoformat(timespec="milliseconds").replace("+00:00", "Z") for t in times]
    (project / "s.jsonl").write_bytes(b"".join(claude_line(f"m{i}", ts) for i, ts in enumerate(stamp)))
    index = Index(tmp_path / "i.sqlite", sources=SOURCES)
    try:
        index.refresh(Env.under(tmp_path / "home"), ["claude-code"])
        every = limits.claude_blocks(index.conn, now)
        assert not any(b.is_gap for b in every) and every[-1].is_active
        assert every[-1].start == at("2026-12-07T02:00:00")
        recent = limits.claude_calls(index.conn, ms("2026-12-06T16:52:00"), ms("2026-12-07T02:52:00"))
        assert limits.blocks(recent, now)[-1].start != every[-1].start  # the last 10 h alone would be wrong
        assert limits.current_block(index.conn, now) == every[-1]
        assert limits.current_block(index.conn, now + timedelta(hours=6)) is None
    finally:
        index.close()


def test_alerts_once_per_window_and_threshold() -> None:
    now = at("2026-11-21T10:05:00")
    w = window(82.0, "2026-11-21T10:00:00")
    (first,) = limits.alerts_due([w], (80, 95), [], now)
    assert first[:2] == (w, 80) and first[2] == "codex||primary|2026-11-21T12:00:00.000Z|80"
    assert limits.alerts_due([w], (80, 95), [first[2]], now) == []
    higher = w._replace(used_percent=97.0)
    ((_, level, key),) = limits.alerts_due([higher], (80, 95), [first[2]], now)
    assert level == 95
    assert limits.alerts_due([higher._replace(used_percent=90.0)], (80, 95), [key], now) == []  # never back down
    jumped = limits.alerts_due([higher], (80, 95), [], now)  # both passed since the last look: one alert, at 95
    assert [a[1] for a in jumped] == [95]
    nxt = higher._replace(resets_at=at("2026-11-21T17:00:00"))  # the next window is another window
    assert [a[1] for a in limits.alerts_due([nxt], (80, 95), [first[2], key], now)] == [95]
    assert limits.alerts_due([window(99.0, "2026-11-21T06:00:00", "2026-11-21T10:00:00")], (80,), [], now) == []
