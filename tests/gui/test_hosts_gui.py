"""The desktop app's side of the dedicated machines: tooltip, chart stacking, the Hosts page, the worker."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.console import hosts, ssh
from app.core.milestones import DEFAULT_MILESTONES
from app.gui.charts import stack
from app.gui.tray import Tray
from tests.gui.test_tray import _today


def test_tray_tooltip_names_unreachable_hosts(qtbot: QtBot) -> None:
    tray = Tray(DEFAULT_MILESTONES, watching=True)
    tray.show_today(_today(4_000_000))
    assert "Not pulled" not in tray.icon.toolTip()
    reason = "unreachable (ssh: connect to host far port 22: Connection refused)"
    tray.set_hosts([{"host": "box", "ok": True, "error": None}, {"host": "far", "ok": False, "error": reason}])
    assert f"Not pulled: far: {reason}" in tray.icon.toolTip()  # the reason once, not "unreachable (unreachable …)"
    tray.set_hosts([{"host": "far", "ok": True, "error": None}])
    assert "Not pulled" not in tray.icon.toolTip()


def test_chart_stacks_by_device() -> None:
    t = {"total": 0}
    days = [
        {"date": "2026-11-20", "by_device": {"box": {**t, "total": 7}, "desk": {**t, "total": 3}}},
        {"date": "2026-11-21", "by_device": {"box": {**t, "total": 5}}},
    ]
    names, heights = stack(days, "device")  # type: ignore[arg-type]
    assert sorted(names) == ["box", "desk"]
    assert heights.sum(axis=0).tolist() == [10, 5]


def test_worker_names_a_host_that_is_down(tmp_path: Path, qtbot: QtBot) -> None:
    from app.core.env import Env
    from app.core.settings import Settings
    from app.gui.workers import IndexWorker, View

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hosts.save({"far": ssh.Target("far", "root@127.0.0.1", port)})
    worker = IndexWorker(tmp_path / "index.sqlite", Env.under(tmp_path / "home"), tmp_path / "p.toml", View(Settings()))
    worker.start()
    got: list[object] = []
    worker.hosts.connect(got.append)
    worker.pull_hosts()
    worker.stop()
    worker._hosts_timer.stop()  # type: ignore[union-attr]
    assert got and got[0][0]["host"] == "far" and not got[0][0]["ok"]  # type: ignore[index]
    assert "unreachable" in got[0][0]["error"]  # type: ignore[index]


def test_hosts_page_shows_the_fingerprint_then_adds_checks_and_removes(
    tmp_path: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.console.conftest import _keygen, make_server, needs_sshd

    needs_sshd()
    from app.gui.hosts_page import HostsPage

    server = make_server(tmp_path / "sshd", _keygen(tmp_path / "id_ed25519"), tmp_path / "host-home").start()
    page = HostsPage()
    qtbot.addWidget(page)
    try:
        page.show()
        page.name.setText("box")
        page.ssh.setText("root@127.0.0.1")
        page.port.setValue(server.port)
        page.identity.setText(str(server.user_key))
        page.fetch.click()
        qtbot.waitUntil(lambda: page.keys.count() > 0, timeout=60_000)
        assert page.keys.currentData() == server.fingerprint and server.fingerprint in page.keys.currentText()
        page.allow.setChecked(True)
        with qtbot.waitSignal(page.changed, timeout=60_000):
            page.add_button.click()
        qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=60_000)
        assert page.table.item(0, 2).text() == server.fingerprint  # type: ignore[union-attr]
        page.table.setCurrentCell(0, 0)
        page._check_selected()
        qtbot.waitUntil(lambda: "reachable, round trip" in page.status.toPlainText(), timeout=60_000)
        monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
        with qtbot.waitSignal(page.changed, timeout=60_000):
            page._remove_selected()
        qtbot.waitUntil(lambda: page.table.rowCount() == 0, timeout=60_000)
        assert hosts.load() == {}
    finally:
        page.hide()
        ssh.stop_master(ssh.Target("box", "root@127.0.0.1", server.port, str(server.user_key)))
        server.stop()
