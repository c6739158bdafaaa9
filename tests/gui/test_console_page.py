"""The Console page and the tray's part, against a real sshd on 127.0.0.1 with a stand-in ``claude``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QDialog, QMessageBox
from pytestqt.qtbot import QtBot

from app.console import hosts, ssh
from app.core.milestones import DEFAULT_MILESTONES
from app.gui import sessions_poller
from app.gui.console_page import COLUMNS, ConsolePage, LaunchDialog
from app.gui.sessions_poller import SessionsPoller, transitions
from app.gui.tray import Tray
from tests.console.conftest import Server, add_host

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "console"
WAIT_MS = 60_000  # a ceiling for what the host and the poller do, never a pace: a loaded machine is slow

# Claude Code's headless stream, as the supervisor on the host reads it: 1,500 tokens a call,
# a call every 0.2 s, forever when the goal says "burn", else three
STANDIN = """#!/usr/bin/env python3
import json, os, sys, time

goal = sys.stdin.read()
model = "claude-sonnet-4-5-20250929"

def emit(doc):
    sys.stdout.write(json.dumps(doc) + "\\n")
    sys.stdout.flush()

emit({"type": "system", "subtype": "init", "session_id": "s1", "model": model})
step = 0
while "burn" in goal or step < 3:
    step += 1
    time.sleep(0.2)
    usage = {"input_tokens": 100, "cache_creation_input_tokens": 200, "cache_read_input_tokens": 1000,
             "output_tokens": 200}
    content = [{"type": "text", "text": f"step {step}"}]
    message = {"id": f"msg_{os.getpid()}_{step}", "model": model, "role": "assistant", "content": content,
               "usage": usage}
    emit({"type": "assistant", "message": message})
emit({"type": "result", "subtype": "success", "is_error": False, "result": "done"})
"""


def standins(home: Path) -> list[int]:
    """Live stand-in agents on the host (the kernel hands the script's path to python3)."""
    script = str(home / ".local" / "bin" / "claude").encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
            if state != b"Z" and script in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                found.append(int(pid))
    return found


@pytest.fixture
def box(sshd: Server, host_home: Path, workstation: Path) -> Iterator[Path]:
    """The host ``box`` registered, with the stand-in as its ``claude``; no agent outlives the test."""
    bin_dir = host_home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "claude").write_text(STANDIN)
    (bin_dir / "claude").chmod(0o755)
    add_host(sshd, "box", workstation, "--allow-this-machine")
    yield host_home
    for t in hosts.load().values():
        ssh.stop_master(t)
    for pid in standins(host_home):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def poller(tmp_path: Path, qtbot: QtBot) -> Iterator[SessionsPoller]:
    poller = SessionsPoller(tmp_path / "index.sqlite")
    yield poller
    poller.stop()


def launch_from_dialog(page: ConsolePage, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, goal: str) -> dict[str, Any]:
    def fill(dialog: LaunchDialog) -> QDialog.DialogCode:
        assert dialog.host.currentText() == "box"
        dialog.agent.setCurrentText("claude-code")
        dialog.goal.setPlainText(goal)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(LaunchDialog, "exec", fill)
    with qtbot.waitSignal(page.poller.launched, timeout=WAIT_MS) as launched:
        page._launch()
    row: dict[str, Any] = launched.args[0]
    assert page.status.text().endswith(f"Launched {row['id']} on box: {row['status']} ({row['reason']})")
    return row


def status_of(page: ConsolePage, rid: str) -> str | None:
    return next((r[3] for r in page.table_text() if r[1] == rid), None)


def test_launch_watch_tail_kill_and_the_tray(
    box: Path, poller: SessionsPoller, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    tray = Tray(DEFAULT_MILESTONES, watching=True)
    poller.running_changed.connect(tray.set_running)
    notes: list[tuple[str, str]] = []
    monkeypatch.setattr(tray.icon, "showMessage", lambda title, text, *_: notes.append((title, text)))
    poller.notify.connect(tray.notify)
    page = ConsolePage(poller)
    qtbot.addWidget(page)
    poller.start()
    page.show()

    burn = launch_from_dialog(page, qtbot, monkeypatch, "burn tokens until stopped")
    assert burn["status"] == "running" and burn["first_event"]["subtype"] == "init"
    qtbot.waitUntil(
        lambda: any(r[1] == burn["id"] and r[3] == "running" and r[6] != "0" for r in page.table_text()),
        timeout=WAIT_MS,
    )
    assert tray.sessions_action.text() == "Sessions: 1 running…" and tray.stop_sessions_action.isEnabled()

    short = launch_from_dialog(page, qtbot, monkeypatch, "refactor the parser")
    qtbot.waitUntil(lambda: status_of(page, short["id"]) == "finished", timeout=WAIT_MS)
    assert notes == [("claude-code on box finished", "done · 4.5K tokens")]
    row = next(r for r in page.table_text() if r[1] == short["id"])
    assert row[:3] == ["box", short["id"], "claude-code"] and row[5:7] == ["1", "4.5K"]

    page.table.selectRow(next(i for i, r in enumerate(page.rows) if r["id"] == burn["id"]))
    page._tail()
    view = page.tails[burn["id"]]
    qtbot.waitUntil(lambda: "step 3" in view.text.toPlainText(), timeout=WAIT_MS)
    assert view.text.toPlainText().startswith("== started (claude-sonnet-4-5-20250929)\nstep 1\nstep 2\n")
    view.hide()

    page.table.clearSelection()
    page.resize(1200, 300)
    qtbot.waitUntil(lambda: page.table.rowCount() == 2 and status_of(page, burn["id"]) == "running", timeout=WAIT_MS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert page.grab().save(str(ARTIFACTS / "console.png"))

    page.table.selectRow(next(i for i, r in enumerate(page.rows) if r["id"] == burn["id"]))
    with qtbot.waitSignal(poller.killed, timeout=WAIT_MS):
        page._kill()
    assert f"{burn['id']}: killed, 0 processes left" in page.status.text()
    qtbot.waitUntil(lambda: status_of(page, burn["id"]) == "killed", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: tray.sessions_action.text() == "Sessions…", timeout=WAIT_MS)
    assert not tray.stop_sessions_action.isEnabled()
    assert standins(box) == []
    assert len(notes) == 1  # a kill asked for is not news


def test_stop_all_from_the_tray_kills_every_live_run(
    box: Path, poller: SessionsPoller, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    tray = Tray(DEFAULT_MILESTONES, watching=True)
    poller.running_changed.connect(tray.set_running)
    tray.stop_sessions_requested.connect(poller.stop_all)
    poller.start()
    fields = LaunchDialog(["box"]).fields() | {"agent": "claude-code", "goal": "burn"}
    for _ in range(2):
        with qtbot.waitSignal(poller.launched, timeout=WAIT_MS):
            poller.launch("box", fields)
    qtbot.waitUntil(lambda: tray.sessions_action.text() == "Sessions: 2 running…", timeout=WAIT_MS)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(poller.killed, timeout=WAIT_MS) as killed:
        tray.stop_sessions_action.trigger()
    assert [(k["status"], k["remaining"]) for k in killed.args[0]] == [("killed", 0), ("killed", 0)]
    assert standins(box) == []
    qtbot.waitUntil(lambda: tray.sessions_action.text() == "Sessions…", timeout=WAIT_MS)


def test_a_failed_launch_says_why_in_the_page(box: Path, poller: SessionsPoller, qtbot: QtBot) -> None:
    page = ConsolePage(poller)
    qtbot.addWidget(page)
    poller.start()
    fields = LaunchDialog(["box"]).fields() | {"agent": "codex", "goal": "fix it"}  # no codex on the host
    with (
        qtbot.waitSignal(poller.notify, timeout=WAIT_MS) as balloon,
        qtbot.waitSignal(poller.launched, timeout=WAIT_MS) as launched,
    ):
        poller.launch("box", fields)
    assert launched.args[0]["status"] == "failed"
    reason = launched.args[0]["reason"]
    searched = reason.split("(searched ")[1].rstrip(")")  # the host's whole PATH
    folders = len([f for f in searched.split(":") if f])
    said = f"codex is not on the host's PATH ({folders} folders searched)"
    assert said in page.status.text() and searched not in page.status.text()
    assert said in balloon.args[1] and searched not in balloon.args[1]  # the balloon: short, no PATH
    qtbot.waitUntil(lambda: page.table.rowCount() > 0, timeout=WAIT_MS)
    cell = page.table.item(0, COLUMNS.index("Reason"))
    assert said in cell.text() and searched not in cell.text()
    assert cell.toolTip() == reason  # the whole reason, PATH and all, one hover away
    with qtbot.waitSignal(poller.failed, timeout=WAIT_MS):
        poller.launch("box", fields | {"goal": "  "})
    assert page.status.text().endswith("Launch on box failed: the goal is empty")


def transitioned(known: dict[str, str], *rows: tuple[str, str, bool]) -> tuple[dict[str, str], list[str]]:
    full = [{"id": rid, "status": st, "stale": stale} for rid, st, stale in rows]
    seen, news = transitions(known, full)
    return seen, [r["id"] for r in news]


def test_news_is_a_change_seen_from_the_host() -> None:
    known, news = transitioned({}, ("a", "finished", False), ("b", "running", False))
    assert news == [] and known == {"a": "finished", "b": "running"}  # first seen ended: no news
    known, news = transitioned(known, ("a", "finished", False), ("b", "stalled", False), ("c", "failed", False))
    assert news == ["b"]
    known, news = transitioned(known, ("b", "finished", True))  # its host unreachable: the cache says so
    assert news == [] and known == {"b": "stalled"}
    known, news = transitioned(known, ("b", "over-budget", False))
    assert news == ["b"]
    _, news = transitioned({"d": "running"}, ("d", "killed", False), ("e", "finished", True))
    assert news == []


def test_no_host_no_poll_until_one_is_registered(
    poller: SessionsPoller, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions_poller, "POLL_IDLE_MS", 100)
    asked: list[bool] = []
    poller._poll.connect(lambda: asked.append(True))
    poller.start()
    qtbot.wait(400)
    assert asked == [] and poller.rows == [] and poller.timer.isActive()
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hosts.save({"far": ssh.Target("far", "root@127.0.0.1", port)})
    with qtbot.waitSignal(poller.polled, timeout=WAIT_MS) as polled:
        pass
    assert asked and polled.args[0] == [] and "far" in polled.args[1]


def test_the_hosts_are_pulled_every_5_s_while_a_run_is_live(tmp_path: Path, qtbot: QtBot) -> None:
    from app.core.env import Env
    from app.core.settings import Settings
    from app.gui.workers import LIVE_PULL_S, IndexWorker, View

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hosts.save({"far": ssh.Target("far", "root@127.0.0.1", port)})
    worker = IndexWorker(tmp_path / "index.sqlite", Env.under(tmp_path / "home"), tmp_path / "p.toml", View(Settings()))
    worker.start()
    timer = worker._hosts_timer
    assert timer is not None
    try:
        worker.pull_hosts()
        assert timer.isActive() and timer.interval() == 60_000  # the user's interval
        worker.set_live_sessions(True)
        assert timer.isActive() and timer.interval() == LIVE_PULL_S * 1000
        worker.pull_hosts()
        assert timer.interval() == LIVE_PULL_S * 1000
        worker.set_live_sessions(False)
        worker.pull_hosts()
        assert timer.interval() == 60_000
        hosts.set_pull_every_s(0)  # only on Refresh: a live run does not change that
        timer.stop()
        worker.set_live_sessions(True)
        assert not timer.isActive()
    finally:
        worker.stop()
        timer.stop()
