"""The Console page and the tray's part, against a real sshd on 127.0.0.1 with stand-in agents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog, QMessageBox
from pytestqt.qtbot import QtBot

from app.console import hosts, ssh
from app.core.milestones import DEFAULT_MILESTONES
from app.gui.tray import Tray
from tests.console.conftest import Server, add_host
from tests.console.test_sessions import put_agents, run_processes

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "console"


@pytest.fixture
def console(sshd: Server, host_home: Path, workstation: Path, tmp_path: Path, qtbot: QtBot) -> Iterator[object]:
    from app.gui.console_page import Console

    put_agents(host_home)
    add_host(sshd, "box", workstation, "--allow-this-machine")
    con = Console(tmp_path / "index.sqlite")
    con.start()
    yield con
    con.stop()
    for t in hosts.load().values():
        ssh.stop_master(t)
    for pid in run_processes():
        import os
        import signal

        os.kill(pid, signal.SIGKILL)


def launch_from_dialog(con: object, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, goal: str) -> None:
    from app.gui.console_page import LaunchDialog

    def fill(dialog: LaunchDialog) -> QDialog.DialogCode:
        dialog.agent.setCurrentText("claude-code")
        dialog.goal.setPlainText(goal)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(LaunchDialog, "exec", fill)
    with qtbot.waitSignal(con.launched, timeout=40_000):  # type: ignore[attr-defined]
        con.page._launch()  # type: ignore[attr-defined]


def test_launch_watch_tail_kill_and_the_tray(console: object, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    con = console
    tray = Tray(DEFAULT_MILESTONES, watching=True)
    con.running_changed.connect(tray.set_running)  # type: ignore[attr-defined]
    notes: list[tuple[str, str]] = []
    con.notify.connect(lambda title, text: notes.append((title, text)))  # type: ignore[attr-defined]
    page = con.show_page()  # type: ignore[attr-defined]
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: con.known is not None, timeout=15_000)  # type: ignore[attr-defined]

    launch_from_dialog(con, qtbot, monkeypatch, "STANDIN mode=burn delay=0.2 grandchild=1\nrefactor the parser")
    qtbot.waitUntil(lambda: any(r[3] == "running" and r[6] != "0" for r in page.table_text()), timeout=20_000)
    assert tray.sessions_action.text() == "Sessions: 1 running…" and tray.stop_sessions_action.isEnabled()

    launch_from_dialog(con, qtbot, monkeypatch, "STANDIN steps=3")
    qtbot.waitUntil(lambda: any(r[3] == "finished" for r in page.table_text()), timeout=20_000)
    qtbot.waitUntil(lambda: any("finished" in title for title, _ in notes), timeout=10_000)
    assert any(text.startswith("done · 3.5K tokens") for _, text in notes), notes

    running = next(i for i, r in enumerate(page.table_text()) if r[3] == "running")
    page.table.selectRow(running)
    page._tail()
    view = next(iter(page.tails.values()))
    qtbot.waitUntil(lambda: "step 2" in view.text.toPlainText(), timeout=10_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    view.hide()
    page.resize(1200, 360)
    qtbot.wait(200)
    assert page.grab().save(str(ARTIFACTS / "console.png"))

    rid = page.rows[running]["id"]
    page.table.selectRow(running)
    with qtbot.waitSignal(con.killed, timeout=30_000):  # type: ignore[attr-defined]
        page._kill()
    qtbot.waitUntil(lambda: any(r[1] == rid and r[3] == "killed" for r in page.table_text()), timeout=10_000)
    assert f"{rid}: killed, 0 processes left" in page.status.text()
    assert run_processes(rid) == []
    qtbot.waitUntil(lambda: tray.sessions_action.text() == "Sessions…", timeout=10_000)
    assert not tray.stop_sessions_action.isEnabled()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    page.hide()


def test_stop_all_from_the_tray_kills_every_live_run(
    console: object, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = console
    page = con.show_page()  # type: ignore[attr-defined]
    qtbot.addWidget(page)
    for _ in range(2):
        launch_from_dialog(con, qtbot, monkeypatch, "STANDIN mode=burn delay=0.2")
    qtbot.waitUntil(lambda: sum(r[3] == "running" for r in page.table_text()) == 2, timeout=20_000)
    tray = Tray(DEFAULT_MILESTONES, watching=True)
    tray.stop_sessions_requested.connect(con.stop_all)  # type: ignore[attr-defined]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(con.killed, timeout=30_000) as killed:  # type: ignore[attr-defined]
        tray._confirm_stop()
    assert [k["status"] for k in killed.args[0]] == ["killed", "killed"]
    assert [k["remaining"] for k in killed.args[0]] == [0, 0]
    assert run_processes() == []
    page.hide()
