"""The Providers page and the Keys dialog, with a provider that echoes the key and with an old index holding one."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pytestqt.qtbot import QtBot  # noqa: E402

from app.core.redact import MARK  # noqa: E402
from app.gui.keys_dialog import KeysDialog  # noqa: E402
from app.gui.providers_page import Providers  # noqa: E402
from app.providers import config, keys  # noqa: E402
from tests.providers.conftest import FAKE_KEYS  # noqa: E402
from tests.providers.test_echo import EchoApi, _old_index, leaks  # noqa: E402
from tests.providers.test_gui import texts  # noqa: E402
from tests.secret_service import SecretService  # noqa: E402


def test_keys_dialog_shows_an_echoed_key_redacted(qtbot: QtBot, secret_service: SecretService, echo: EchoApi) -> None:
    cfg = config.load()
    cfg.base_urls["anthropic"] = echo.url
    config.save(cfg)
    keys.add("anthropic", FAKE_KEYS["anthropic"], "echo-gui")
    dialog = KeysDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.table.selectRow(0)
    dialog.test_button.click()
    qtbot.waitUntil(lambda: "HTTP 400" in dialog.status.text(), timeout=60_000)
    assert f"x-api-key: {MARK}" in dialog.status.text()
    assert leaks({"Keys dialog": "\n".join(texts(dialog)).encode()}) == {}
    assert any(FAKE_KEYS["anthropic"] in body for body in echo.sent)
    keys.remove("anthropic", "echo-gui")


def test_providers_page_shows_an_old_leaked_message_redacted(qtbot: QtBot, tmp_path: Path) -> None:
    key = FAKE_KEYS["openrouter"]
    db = tmp_path / "index.sqlite"
    _old_index(db, f"openrouter: the key was refused (401: you sent {key})")
    providers = Providers(db)
    providers.start()
    try:
        page = providers.show_page()
        qtbot.addWidget(page)
        qtbot.waitUntil(lambda: "openrouter/old" in page.messages.text(), timeout=60_000)
        assert f"openrouter/old: openrouter: the key was refused (401: you sent {MARK})" in page.messages.text()
        assert leaks({"Providers page": "\n".join(texts(page)).encode()}) == {}
    finally:
        providers.stop()
