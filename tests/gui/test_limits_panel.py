"""Plan limits in the app: the Limits panel, the tray's lines and ring, and each alert once per window."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.core import limits
from app.core import settings as settings_store
from app.core.env import Env
from app.core.index import Index
from app.core.limits import Window
from app.core.milestones import DEFAULT_MILESTONES
from app.gui.app import Controller
from app.gui.limits_panel import EMPTY, NO_BLOCK, LimitsPanel, alert_text, ring_share, tooltip_lines
from app.gui.limits_worker import ALERTS_FILE, LimitsFeed, Reading, SentAlerts
from app.gui.tray import Tray, tier_icon
from app.sources import SOURCES
from tests.core.test_limits import ID2, token_count, write_rollout
from tests.gui.conftest import Notes, shown
from tests.httpserver import FakeApi, Reply
from tests.logmaker import claude_line

NOW = datetime(2026, 11, 21, 13, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")  # UTC+1 in November: every time shown is an hour ahead of UTC
WAIT_MS = 60_000  # a ceiling, never a pace


def window(agent: str, name: str, used: float, minutes: int, resets_in: timedelta, read_ago: timedelta) -> Window:
    source = limits.LOG if agent == limits.CODEX else limits.ACCOUNT
    plan = "pro" if agent == limits.CODEX else "max"
    return Window(agent, plan, name, used, minutes, NOW + resets_in, source, NOW - read_ago)


WINDOWS = [
    window("codex", "primary", 62.0, 300, timedelta(hours=2, minutes=10), timedelta(minutes=3)),
    window("codex", "secondary", 31.0, 10_080, timedelta(days=3, hours=4), timedelta(minutes=3)),
    window("claude-code", "5h", 84.0, 300, timedelta(hours=1), timedelta(seconds=40)),
    window("claude-code", "weekly", 96.0, 10_080, timedelta(days=1), timedelta(seconds=40)),
]


def calls() -> list[tuple[Any, ...]]:
    """A Claude Code call every 5 minutes for the last 2.5 hours: an active block from 10:00 UTC."""
    at = [NOW - timedelta(minutes=m) for m in range(150, 0, -5)]
    return [(int(t.timestamp() * 1000), 1_000, 2_000, 50_000, 800, 0.12, "claude-opus-4-1") for t in at]


def block() -> limits.Block:
    found = limits.blocks(calls(), NOW)[-1]
    assert found.is_active
    return found


def reading(windows: list[Window] | None = None, with_block: bool = True) -> Reading:
    return Reading(WINDOWS if windows is None else windows, block() if with_block else None, [], True, NOW)


def panel(qtbot: QtBot, r: Reading) -> LimitsPanel:
    p = LimitsPanel()
    shown(qtbot, p, 900, 640)
    p.show_reading(r, NOW, PARIS, (80, 95))
    return p


def test_each_window_a_bar_with_its_reset_source_age_and_pace(qtbot: QtBot) -> None:
    lines = panel(qtbot, reading()).text().splitlines()
    # tightest first; Claude's names say their length, Codex's are given it
    assert lines[:16] == [
        "Claude weekly · max",
        "resets Sun 14:00 (in 1 d)",
        "at this pace: full at 19:59, 18 h before it resets",
        "from Claude's account, read 40 s ago",
        "Claude 5h · max",
        "resets 15:00 (in 1 h)",
        "at this pace: full at 14:44, 15 min before it resets",
        "from Claude's account, read 40 s ago",
        "Codex primary (5 h) · pro",
        "resets 16:10 (in 2 h 10 min)",
        "at this pace: full at 15:39, 30 min before it resets",
        "from Codex's logs, read 3 min ago",
        "Codex secondary (7 d) · pro",
        "resets Tue 18:00 (in 3 d 4 h)",
        "at this pace: 56.6% when it resets",
        "from Codex's logs, read 3 min ago",
    ]


def test_bars_fill_to_the_use_and_the_block_to_its_time(qtbot: QtBot) -> None:
    assert panel(qtbot, reading()).bars() == [
        ("96% used", 960),
        ("84% used", 840),
        ("62% used", 620),
        ("31% used", 310),
        ("11:00–16:00 · 2 h left", 600),  # 10:00-15:00 UTC, 3 of its 5 hours gone
    ]


def test_claudes_block_tokens_cost_burn_rate_and_projection(qtbot: QtBot) -> None:
    text = panel(qtbot, reading()).text()
    # 30 calls of 53,800 tokens and $0.12 over 145 minutes; 120 minutes left at that rate
    assert "1.6M tokens · $3.60 · 30 calls" in text
    assert "burn rate 11.1K tokens/min · $1.49/h" in text
    assert "at this pace by its end: 2.9M tokens, $6.58" in text


def test_empty_state_says_what_would_fill_it(qtbot: QtBot) -> None:
    notes = [
        "codex: no rate_limits reading in its rollouts (/home/dev/.codex/sessions)",
        "claude: the account's plan use is not asked (opt in: --account, or the limits_account setting)",
    ]
    p = panel(qtbot, Reading([], None, notes, False, NOW))
    text = p.text()
    assert EMPTY in text and "Codex has written its rate limits into its logs" in EMPTY and "Settings" in EMPTY
    assert NO_BLOCK in text
    assert notes[0] in text  # where Codex's logs were looked for
    assert "--account" not in text and "opt in to reading its account's plan use in Settings" in text
    assert p.bars() == []


def test_account_failure_is_said_when_opted_in(qtbot: QtBot) -> None:
    note = "claude: claude account: HTTP 401 (sign in to Claude Code again)"
    text = panel(qtbot, Reading(WINDOWS[:1], None, [note], True, NOW)).text()
    assert note in text and "opt in" not in text


def test_tooltip_one_line_per_window_then_the_block(qtbot: QtBot) -> None:
    lines = tooltip_lines(reading(), NOW, PARIS)
    assert lines == [
        "Claude weekly 96% · resets Sun 14:00 · full at 19:59 at this pace",
        "Claude 5h 84% · resets 15:00 · full at 14:44 at this pace",
        "Codex primary 62% · resets 16:10 · full at 15:39 at this pace",
        "Codex secondary 31% · resets Tue 18:00",
        "Claude block 1.6M tokens · $3.60 · 2 h left",
    ]
    tray = Tray(DEFAULT_MILESTONES, watching=True)
    tray.show_today(_today())
    tray.set_plan(lines, None)
    tip = tray.icon.toolTip().splitlines()
    assert tip[tip.index("Plan limits:") + 1 :] == [f"  {line}" for line in lines]
    tray.set_plan([], None)
    assert "Plan limits:" not in tray.icon.toolTip()


def _today(total: int = 20_000_000) -> dict[str, Any]:
    return {
        "date": "2026-11-21",
        "in": 0,
        "cw": 0,
        "cr": total,
        "out": 0,
        "rsn": 0,
        "total": total,
        "cost_usd": 1.0,
        "tier": "10M",
        "next_milestone": 100_000_000,
        "to_next": 100_000_000 - total,
    }


def _picture(tray: Tray) -> Any:
    return tray.icon.icon().pixmap(QSize(32, 32)).toImage()


def test_ring_follows_the_tightest_open_window(qtbot: QtBot) -> None:
    reset = window("codex", "primary", 99.0, 300, -timedelta(minutes=1), timedelta(hours=1))  # reset since
    r = reading([*WINDOWS, reset])
    assert ring_share(r, NOW) == pytest.approx(0.96)  # the weekly window; the reset one no longer counts
    assert ring_share(reading([]), NOW) is None
    tray = Tray(DEFAULT_MILESTONES, watching=True)
    tray.show_today(_today())
    milestone = _picture(tray)
    tray.set_plan(tooltip_lines(r, NOW, PARIS), ring_share(r, NOW))
    following = _picture(tray)
    assert following != milestone
    assert following == tier_icon(20_000_000, DEFAULT_MILESTONES, 0.96).pixmap(QSize(32, 32)).toImage()
    tray.show_today(_today(20_000_001))  # a new total keeps the ring on the window
    assert _picture(tray) == following
    tray.set_plan([], None)  # the setting turned off: the next milestone again
    assert _picture(tray) == tier_icon(20_000_001, DEFAULT_MILESTONES).pixmap(QSize(32, 32)).toImage()


def test_alert_text_names_the_window_threshold_reset_and_pace() -> None:
    title, text = alert_text(WINDOWS[2], 80, NOW, PARIS)
    assert title == "Claude 5h window at 84%"
    assert text == "Past your 80% alert; resets 15:00 (in 1 h). At this pace: full at 14:44, 15 min before it resets."


def test_sent_alerts_survive_a_restart_and_forget_old_windows(tmp_path: Path) -> None:
    path = tmp_path / ALERTS_FILE
    due = limits.alerts_due(WINDOWS, (80, 95), SentAlerts(path).keys, NOW)
    assert [(w.name, t) for w, t, _ in due] == [("5h", 80), ("weekly", 95)]
    SentAlerts(path).mark([k for _, _, k in due], NOW)
    assert limits.alerts_due(WINDOWS, (80, 95), SentAlerts(path).keys, NOW) == []  # read back from the file
    later = NOW + timedelta(days=3)  # both windows reset more than a day ago: their keys go
    kept = SentAlerts(path)
    kept.mark([], later)
    assert SentAlerts(path).keys == []
    path.write_text("{not json")
    assert SentAlerts(path).keys == []  # at worst one repeated notification


# -- the app as a whole: the feed's thread, the tray, the dashboard, and a restart ------------------------------


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _home(tmp_path: Path, now: datetime) -> Path:
    """A Codex rollout whose primary window stands at 85%, a Claude Code call, and Claude Code's sign-in."""
    home = tmp_path / "home"
    rates = {
        "primary": {
            "used_percent": 85.0,
            "window_minutes": 300,
            "resets_at": int((now + timedelta(hours=2)).timestamp()),
        },
        "secondary": {
            "used_percent": 20.0,
            "window_minutes": 10_080,
            "resets_at": int((now + timedelta(days=4)).timestamp()),
        },
        "plan_type": "pro",
    }
    read = now - timedelta(minutes=2)
    day = read.strftime("%Y/%m/%d")
    write_rollout(
        home / ".codex" / "sessions" / day / f"rollout-{read:%Y-%m-%dT%H-%M-%S}-{ID2}.jsonl",
        [token_count(read.strftime("%Y-%m-%dT%H:%M:%S.000"), rates)],
        read.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    project = home / ".claude" / "projects" / "-home-dev-proj"
    project.mkdir(parents=True)
    (project / "s-1.jsonl").write_bytes(claude_line("m1", _stamp(now - timedelta(minutes=1)), inp=1_000, out=500))
    creds = {
        "claudeAiOauth": {"accessToken": "sk-ant-oat01-TESTTOKEN0gui0limits0HHHHHHHHwxyz", "subscriptionType": "max"}
    }
    (home / ".claude" / ".credentials.json").write_text(json.dumps(creds))
    return home


def _start(db: Path, home: Path) -> tuple[Controller, Notes]:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    controller = Controller(app, db, Env.under(home), tray_available=True)
    notes = Notes()
    assert controller.tray is not None
    controller.tray.notify = notes  # type: ignore[method-assign]
    controller.start()
    return controller, notes


def _stop(controller: Controller) -> None:
    controller.shutdown()
    if controller.window is not None:
        controller.window.close()


def test_app_alerts_once_per_window_across_a_restart_and_rings_the_tightest(
    tmp_path: Path, qtbot: QtBot, api: FakeApi
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    home = _home(tmp_path, now)
    answer = {
        "five_hour": {"utilization": 97.0, "resets_at": (now + timedelta(hours=3)).isoformat()},
        "seven_day": {"utilization": 40.0, "resets_at": (now + timedelta(days=5)).isoformat()},
        "seven_day_opus": None,
    }
    api.route("/api/oauth/usage", Reply(answer))
    s = settings_store.Settings(limits_account=True, limits_account_url=api.url, ring_follows_limits=True)
    settings_store.save(s)
    db = tmp_path / "index.sqlite"
    index = Index(db, sources=SOURCES)
    index.refresh(Env.under(home), workers=1)
    index.close()

    controller, notes = _start(db, home)
    try:
        qtbot.waitUntil(lambda: len(notes.shown) == 2, timeout=WAIT_MS)
        assert sorted(title for title, _ in notes.shown) == ["Claude 5h window at 97%", "Codex primary window at 85%"]
        assert any("Past your 95% alert" in text for _, text in notes.shown)  # the higher only: no 80% first
        tray = controller.tray
        assert tray is not None
        qtbot.waitUntil(lambda: "Plan limits:" in tray.icon.toolTip(), timeout=WAIT_MS)
        assert "  Claude 5h 97% · resets" in tray.icon.toolTip()
        assert tray.plan_ring == pytest.approx(0.97)
        controller.show_dashboard()
        window = controller.window
        tab = window.tabs.indexOf(window.limits_panel)
        assert window.tabs.tabText(tab) == "Limits (97%)"
        assert "Codex primary (5 h) · pro" in window.limits_panel.text()
        assert api.requests[0]["headers"]["authorization"].startswith("Bearer sk-ant-oat01-")
    finally:
        _stop(controller)
    assert len(json.loads((db.parent / ALERTS_FILE).read_text())) == 2

    again, notes = _start(db, home)
    try:
        tray2 = again.tray
        assert tray2 is not None
        qtbot.waitUntil(lambda: again.limits.last is not None, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: "Plan limits:" in tray2.icon.toolTip(), timeout=WAIT_MS)
        assert notes.shown == []  # the same windows: nothing said twice
        assert tray2.plan_ring == pytest.approx(0.97)
        again.apply_settings(settings_store.updated(again.settings, {"ring_follows_limits": False}))
        assert tray2.plan_ring is None  # back to the next milestone
    finally:
        _stop(again)


def test_feed_reads_off_the_gui_thread_and_at_most_once_a_minute(tmp_path: Path, qtbot: QtBot, api: FakeApi) -> None:
    now = datetime.now(UTC)
    answer = {"five_hour": {"utilization": 12.0, "resets_at": (now + timedelta(hours=1)).isoformat()}}
    api.route("/api/oauth/usage", Reply(answer, delay=1.5))  # a slow endpoint
    home = _home(tmp_path, now)
    db = tmp_path / "not-yet.sqlite"  # the index not created yet: no block, and not created by a reader either
    feed = LimitsFeed(db, Env.under(home), api.url)
    got: list[Reading] = []
    feed.updated.connect(got.append)
    started = time.monotonic()
    try:
        feed.start()
        feed.index_opened()
        assert time.monotonic() - started < 1.0  # the GUI thread never waits on the endpoint
        qtbot.waitUntil(lambda: len(got) == 1, timeout=WAIT_MS)
        assert time.monotonic() - started >= 1.5
        assert {(w.agent, w.name) for w in got[0].windows} == {
            ("codex", "primary"),
            ("codex", "secondary"),
            ("claude-code", "5h"),
        }
        assert got[0].block is None and not db.exists()
        feed.request()  # a refresh of the index within the minute: the next reading waits for the minute
        feed.request()
        assert feed.timer.isActive() and 55_000 < feed.timer.remainingTime() <= 60_000
        assert len(api.requests) == 1
        feed.set_account_url(None)  # the opt-in turned off: read at once, the endpoint not asked
        qtbot.waitUntil(lambda: len(got) == 2, timeout=WAIT_MS)
        assert len(api.requests) == 1 and not got[1].account_asked
        assert {w.agent for w in got[1].windows} == {"codex"}
    finally:
        feed.stop()


def test_feed_reads_the_block_only_while_the_index_is_open(tmp_path: Path, qtbot: QtBot) -> None:
    home = _home(tmp_path, datetime.now(UTC))
    db = tmp_path / "index.sqlite"
    index = Index(db, sources=SOURCES)
    index.refresh(Env.under(home), workers=1)
    index.close()
    feed = LimitsFeed(db, Env.under(home), None)
    got: list[Reading] = []
    feed.updated.connect(got.append)
    try:
        feed.start()
        feed.index_closed()  # the index worker could not open it: the windows without the block
        qtbot.waitUntil(lambda: len(got) == 1, timeout=WAIT_MS)
        assert got[0].block is None and got[0].windows
        feed.index_opened()
        qtbot.waitUntil(lambda: len(got) == 2, timeout=WAIT_MS)
        assert got[1].block is not None and got[1].block.total == 1_500  # the call a minute ago
    finally:
        feed.stop()


def test_settings_dialog_edits_the_limit_settings(qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QCheckBox, QLineEdit

    from app.gui.settings_dialog import FieldError, SettingsDialog

    path = tmp_path / "settings.json"
    dialog = SettingsDialog(settings_store.Settings(), path)
    qtbot.addWidget(dialog)
    alerts = dialog.findChild(QLineEdit, "limit_alerts")
    url = dialog.findChild(QLineEdit, "limits_account_url")
    account = dialog.findChild(QCheckBox, "limits_account")
    ring = dialog.findChild(QCheckBox, "ring_follows_limits")
    assert alerts is not None and url is not None and account is not None and ring is not None
    assert alerts.text() == "80, 95" and not account.isChecked() and not url.isEnabled() and not ring.isChecked()
    alerts.setText("95, 80")
    assert dialog.accept_values() is None  # refused: said beneath the field, nothing written
    why = dialog.findChild(FieldError, "limit_alerts-error")
    assert why is not None and "increasing" in why.text() and not path.exists()
    alerts.setText("70, 90, 99")
    account.setChecked(True)
    assert url.isEnabled()
    url.setText("http://127.0.0.1:9/")
    ring.setChecked(True)
    saved = dialog.accept_values()
    assert saved is not None and saved == settings_store.load(path).settings
    assert (saved.limit_alerts, saved.limits_account, saved.limits_account_url, saved.ring_follows_limits) == (
        (70, 90, 99),
        True,
        "http://127.0.0.1:9",
        True,
    )
