"""The Keys dialog, the Providers page, the sync schedule and balances in the tray tooltip (offscreen Qt)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QLabel, QLineEdit, QMessageBox, QTableWidget, QWidget  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from app.gui.keys_dialog import KeysDialog  # noqa: E402
from app.gui.providers_page import Providers, ProvidersPage  # noqa: E402
from app.providers import config, keys  # noqa: E402
from tests.httpserver import FakeApi, Reply  # noqa: E402
from tests.providers.conftest import FAKE_KEYS, MemoryKeyring, fixture_json  # noqa: E402
from tests.providers.test_sync import point_at  # noqa: E402


def texts(widget: QWidget) -> list[str]:
    """Every text a person could see or copy out of ``widget`` and its children."""
    out = [widget.windowTitle(), widget.toolTip()]
    for w in widget.findChildren(QWidget):
        out.append(w.toolTip())
        if isinstance(w, QLabel | QLineEdit):
            out.append(w.text())
        if isinstance(w, QTableWidget):
            for r in range(w.rowCount()):
                for c in range(w.columnCount()):
                    item = w.item(r, c)
                    out.append(item.text() if item else "")
    return out


def test_keys_dialog_add_test_remove(qtbot: QtBot, api: FakeApi, memory_keyring: MemoryKeyring,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    point_at(api, deepseek="")
    api.route("/user/balance", Reply(fixture_json("deepseek_balance.json")))
    dialog = KeysDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.key_field.echoMode() == QLineEdit.EchoMode.Password
    dialog.provider.setCurrentIndex(dialog.provider.findData("deepseek"))
    dialog.label.setText("main")
    dialog.key_field.setText(FAKE_KEYS["deepseek"])
    dialog.add_button.click()
    assert dialog.key_field.text() == ""
    assert dialog.table.rowCount() == 1 and dialog.table.item(0, 3).text() == "sk-…wxyz"
    assert dialog.status.text() == "Stored deepseek/main (regular key sk-…wxyz) in the keyring."
    assert not any(FAKE_KEYS["deepseek"] in t for t in texts(dialog))
    dialog.table.selectRow(0)
    dialog.test_button.click()
    qtbot.waitUntil(lambda: "ok, key valid" in dialog.status.text(), timeout=60_000)
    assert dialog.status.text() == "deepseek/main: ok, key valid (110.00 CNY)"
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    dialog.table.selectRow(0)
    dialog.remove_button.click()
    assert dialog.table.rowCount() == 0 and keys.select() == []


def test_keys_dialog_refuses_an_insecure_keyring(qtbot: QtBot) -> None:
    dialog = KeysDialog()  # the autouse fixture leaves the fail backend
    qtbot.addWidget(dialog)
    dialog.key_field.setText(FAKE_KEYS["openai"])
    dialog.add_button.click()
    assert dialog.key_field.text() == ""
    assert "not a secure store; nothing was stored" in dialog.status.text()
    assert not config.file().exists()


def _reconcile_doc() -> dict[str, Any]:
    row = {"date": "2026-11-20", "model": "claude-haiku-4-5-20251001", "providers": ["anthropic"],
           "provider": {"total": 8238, "cost_usd": None}, "logs": {"total": 6238, "cost_usd": 0.01},
           "diff": {"tokens": 2000, "pct": 24.28, "cost_usd": None}, "flagged": True, "provisional": False}
    ok = {**row, "model": "claude-sonnet-4-5-20250929", "provider": {"total": 100, "cost_usd": None},
          "logs": {"total": 100, "cost_usd": None}, "diff": {"tokens": 0, "pct": 0.0, "cost_usd": None},
          "flagged": False}
    return {"reconcile": {"rows": [row, ok], "flagged": 1, "threshold_pct": 5.0},
            "balances": [{"provider": "deepseek", "label": "main", "balance": 3.5, "currency": "CNY",
                          "low_balance": 5.0, "low": True}],
            "status": [{"provider": "anthropic", "label": "org", "last_error": "anthropic: HTTP 500"}],
            "threshold_pct": 5.0}


def test_providers_page_shows_chart_table_and_gemini_note(qtbot: QtBot) -> None:
    page = ProvidersPage()
    qtbot.addWidget(page)
    page.show()
    page.show_data(_reconcile_doc())
    assert page.table.rowCount() == 2
    assert page.table.item(0, 9).text() == "FLAG" and page.table.item(1, 9).text() == ""
    assert page.table.item(0, 0).background().color().alpha() > 0
    assert len(page.chart.getPlotItem().items) == 3  # provider bars, log bars, the flag marker
    assert "no usage endpoint exists for a Gemini API key" in page.note.text()
    assert "deepseek" not in page.balances.text() and "3.50 CNY  ⚠ under 5.00" in page.balances.text()
    assert "1 of 2 cells differ by more than 5%" in page.messages.text()
    assert "anthropic/org: anthropic: HTTP 500" in page.messages.text()


def test_sync_from_the_app_fills_the_page_and_the_tray(qtbot: QtBot, api: FakeApi, memory_keyring: MemoryKeyring,
                                                       tmp_path: Path) -> None:
    from app.gui.tray import Tray

    keys.add("deepseek", FAKE_KEYS["deepseek"], "main", low_balance=200)
    point_at(api, deepseek="")
    api.route("/user/balance", Reply(fixture_json("deepseek_balance.json")))
    providers = Providers(tmp_path / "index.sqlite")
    tray = Tray((10_000_000,), True)
    providers.balances_changed.connect(tray.set_balances)
    notes: list[tuple[str, str]] = []
    providers.notify.connect(lambda title, text: notes.append((title, text)))
    providers.start()
    try:
        page = providers.show_page()
        qtbot.addWidget(page)
        page.schedule.setValue(30)
        assert providers.timer.isActive() and providers.timer.interval() == 30 * 60_000
        assert config.load().sync_every_minutes == 30
        page.sync_button.click()  # (not waitSignal on the worker: its lambda would run on the worker's thread)
        qtbot.waitUntil(lambda: bool(tray.balances), timeout=60_000)
        assert tray.balances == ["deepseek/main: 110.00 CNY (low)"]
        tray.show_today({"total": 0, "in": 0, "cw": 0, "cr": 0, "out": 0, "rsn": 0, "cost_usd": 0.0})
        assert tray.icon.toolTip().endswith("Balances: deepseek/main: 110.00 CNY (low)")
        assert notes == [("Low balance", "deepseek/main has 110.00 CNY left (under 200.00).")]
        assert "110.00 CNY" in page.balances.text()
        page.schedule.setValue(0)
        assert not providers.timer.isActive()
    finally:
        providers.stop()
