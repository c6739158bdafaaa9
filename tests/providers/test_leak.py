"""A known fake key, through every CLI command and every GUI page: never in any output, log, file or ``ps``.

Every command runs as its own process against a local server replaying documented
responses (each answer a little late, so the process list is sampled while requests are
in flight), with the keys in a real Secret Service. Then every captured output, every
``ps`` sample, every log record of this process, every file TokenClub wrote (the index
and its WAL, the settings, the provider settings) and every text of the GUI's windows is
searched for the keys: the raw key, and the part of it that the masked form hides.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before qtbot makes the QApplication

from tests.httpserver import FakeApi, Reply
from tests.providers.conftest import FAKE_KEYS, fixture_json
from tests.secret_service import SecretService

PREFIXES = {"openai": "/v1", "anthropic": "", "openrouter": "/api/v1", "deepseek": "", "moonshot": "/v1",
            "siliconflow": "/v1", "gemini": "/v1beta"}
SECRET_PARTS = [k.encode() for k in FAKE_KEYS.values()] + [b"TESTKEY0"]  # every fake key carries TESTKEY0
RUN_TIMEOUT_S = 60


def routes(api: FakeApi) -> None:
    late = 0.25
    for path, name in [
        ("/v1/organization/usage/completions", "openai_usage_completions_page2.json"),
        ("/v1/organization/costs", "openai_costs.json"),
        ("/v1/models", "gemini_models.json"),
        ("/v1/organizations/usage_report/messages", "anthropic_usage_report.json"),
        ("/v1/organizations/cost_report", "anthropic_cost_report.json"),
        ("/api/v1/key", "openrouter_key.json"),
        ("/api/v1/credits", "openrouter_credits.json"),
        ("/api/v1/activity", "openrouter_activity.json"),
        ("/user/balance", "deepseek_balance.json"),
        ("/v1/users/me/balance", "moonshot_balance.json"),
        ("/v1/user/info", "siliconflow_user_info.json"),
        ("/v1beta/models", "gemini_models.json"),
    ]:
        api.route(path, Reply(fixture_json(name), delay=late))


class Runner:
    def __init__(self, env: dict[str, str], out: Path) -> None:
        self.env, self.out = env, out
        self.outputs: list[bytes] = []
        self.ps: list[bytes] = []
        self.codes: dict[str, int] = {}
        self.failures: dict[str, str] = {}  # the end of stderr of each command that failed

    def __call__(self, *args: str, stdin: str | None = None) -> int:
        n = len(self.codes)
        out_path, err_path = self.out / f"run{n}.out", self.out / f"run{n}.err"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "app", *args], env=self.env, stdin=subprocess.PIPE,
                                    stdout=out, stderr=err)
            assert proc.stdin is not None
            if stdin is not None:
                proc.stdin.write(stdin.encode())
            proc.stdin.close()
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while proc.poll() is None and time.monotonic() < deadline:
                self.ps.append(subprocess.run(["ps", "-eww", "-o", "pid=,args="], capture_output=True,
                                              timeout=10).stdout)
                time.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
            code = proc.wait(10)
        self.outputs += [out_path.read_bytes(), err_path.read_bytes()]
        out_path.unlink()
        err_path.unlink()
        self.codes[f"{n}: {' '.join(args)}"] = code
        if code != 0:
            self.failures[f"{n}: {' '.join(args)}"] = self.outputs[-1][-800:].decode(errors="replace")
        return code


def test_no_key_anywhere(secret_service: SecretService, api: FakeApi, tmp_path: Path, tokenclub_home: Path,
                         fixture_home: Path, qtbot: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    routes(api)
    db = tmp_path / "index.sqlite"
    env = {**os.environ, **secret_service.env(), "TOKENCLUB_HOME": str(tokenclub_home)}
    run = Runner(env, tmp_path)
    common = ("--db", str(db), "--home", str(fixture_home))
    assert run("provider", "config", *[f"--base-url={p}={api.url}{PREFIXES[p]}" for p in FAKE_KEYS]) == 0
    for provider, key in FAKE_KEYS.items():
        kind = ["--kind", "admin"] if provider == "openrouter" else []
        assert run("keys", "add", provider, "--label", "leak", *kind, stdin=key + "\n") == 0
    for args in [
        ("keys", "list"), ("keys", "list", "--json"), ("keys", "list", "--csv"), ("keys", "test"),
        ("keys", "test", "deepseek", "--json"), ("keys", "set", "deepseek", "--label", "leak", "--low-balance", "500"),
        ("keys", "set", "moonshot", "--label", "leak", "--new-label", "leak2"),
        ("provider", "sync", *common), ("provider", "sync", "--json", "--days", "3", *common),
        ("provider", "balances", *common), ("provider", "balances", "--json", *common),
        ("provider", "balances", "--csv", *common), ("provider", "list", *common), ("provider", "list", "--json"),
        ("provider", "config", "--json", "--threshold", "7", "--sync-every", "60"),
        ("report", "reconcile", *common), ("report", "reconcile", "--json", *common),
        ("report", "reconcile", "--csv", *common), ("report", "daily", "--json", *common),
        ("sources", *common), ("refresh", *common), ("keys", "--help"), ("provider", "--help"),
    ]:
        run(*args)
    assert run.failures == {}
    # faults: a revoked key, an HTML page, a truncated answer
    api.route("/api/v1/key", Reply(fixture_json("openrouter_error_401.json"), 401))
    api.route("/user/balance", Reply(raw=b"<html>bad gateway</html>", content_type="text/html"))
    api.route("/v1/users/me/balance", Reply(raw=b'{"code": 0, "da'))
    assert run("keys", "test", "openrouter") == 1
    assert run("provider", "balances", "--json", *common) == 1
    assert run("provider", "sync", *common) == 1
    assert run("keys", "add", "openai", "--label", "leak", stdin="\n") == 1  # empty: refused
    assert run("keys", "remove", "siliconflow", "--label", "leak") == 0
    messages = b"".join(run.outputs)
    assert b"openrouter: the key was refused (401: User not found.)" in messages
    assert b"deepseek: answered with an HTML page instead of JSON" in messages
    assert b"sk-or-\xe2\x80\xa6wxyz" in messages  # the masked form is what is shown

    gui_texts = _open_every_page(qtbot, db)
    written = [p for p in [*tokenclub_home.rglob("*"), *tmp_path.glob("index.sqlite*")] if p.is_file()]
    assert any(p.name == "providers.json" for p in written) and db.exists()
    haystacks = {
        "command output": messages,
        "ps": b"".join(run.ps),
        "log records": "\n".join(r.getMessage() for r in caplog.records).encode(),
        "GUI texts": "\n".join(gui_texts).encode(),
        **{str(p): p.read_bytes() for p in written},
    }
    assert len(run.ps) > 20  # the process list was sampled while the commands ran
    size = sum(len(text) for text in haystacks.values())
    print(f"leak search: {len(run.codes)} commands, {len(run.ps)} ps samples, {len(written)} files, {size:,} bytes")
    found = {where: part.decode() for where, text in haystacks.items() for part in SECRET_PARTS if part in text}
    assert found == {}
    assert all("TESTKEY0" not in r["raw"] for r in api.requests)  # never in a URL
    # the search would have found them: the keys did travel (in headers), and ps did see the commands
    assert all(any(key in str(r["headers"]) for r in api.requests) for key in FAKE_KEYS.values())
    assert b"-m app provider sync" in haystacks["ps"] and b"-m app keys add" in haystacks["ps"]


def _open_every_page(qtbot: object, db: Path) -> list[str]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.core.settings import Settings
    from app.gui.keys_dialog import KeysDialog
    from app.gui.providers_page import Providers
    from app.gui.settings_dialog import SettingsDialog
    from app.gui.tray import Tray
    from tests.providers.test_gui import texts

    providers = Providers(db)
    tray = Tray((10_000_000,), True)
    providers.balances_changed.connect(tray.set_balances)
    providers.start()
    try:
        page = providers.show_page()
        qtbot.addWidget(page)  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: bool(tray.balances), timeout=60_000)  # type: ignore[attr-defined]
        tray.show_today({"total": 0, "in": 0, "cw": 0, "cr": 0, "out": 0, "rsn": 0, "cost_usd": 0.0})
        dialog = providers.show_keys()
        assert isinstance(dialog, KeysDialog) and dialog.table.rowCount() >= 5
        settings = SettingsDialog(Settings())
        qtbot.addWidget(settings)  # type: ignore[attr-defined]
        settings.show()
        page.grab()  # the pictures a screenshot would take come from these same widgets
        dialog.grab()
        out = texts(page) + texts(dialog) + texts(settings)
        out += [tray.icon.toolTip(), *(a.text() for a in tray.menu.actions())]
        assert any("sk-or-…wxyz" in t for t in out)
        return out
    finally:
        providers.stop()
