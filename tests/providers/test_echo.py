"""Providers that echo the key back: nothing of it is printed, stored, listed or shown.

A local server answers every request with an error whose body quotes the auth headers
(``Authorization``, ``x-api-key``, ``x-goog-api-key``), the key alone, URL-encoded, in base64
and in part, the request line, and terminal escapes, as 401, 400, 403, 429, 500 and a
200 with an error code. The keys are in a real Secret Service; the real command line runs
in subprocesses. Then stdout and stderr, the index and its WAL, every file under the
TokenClub home and the records of this process's logs are searched for any trace of them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from app.core.redact import MARK, redact
from tests.httpserver import FakeApi, LocalServer, Reply
from tests.providers.conftest import FAKE_KEYS
from tests.secret_service import SecretService

RUN_TIMEOUT_S = 120  # a 500 is retried with real waits (1 + 2 + 4 + 8 s) in the subprocesses
PREFIXES = {
    "openai": "/v1",
    "anthropic": "",
    "openrouter": "/api/v1",
    "deepseek": "",
    "moonshot": "/v1",
    "siliconflow": "/v1",
    "gemini": "/v1beta",
}
# what each provider's endpoints answer: the status (200 carries an error code in the body, as Moonshot's does)
STATUS = {
    "openai": 401,
    "anthropic": 400,
    "openrouter": 401,
    "deepseek": 500,
    "moonshot": 200,
    "siliconflow": 429,
    "gemini": 400,
}
ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31m\u202e"


def _private(key: str) -> str:
    return key.split("-")[-1] if key.startswith("sk-") else key.removeprefix("AIza")


def traces(key: str) -> set[bytes]:
    """What would give the key away: itself, 12 characters in a row of its secret part, its encodings."""
    private = _private(key)
    found = {key, quote(key, safe=""), "TESTKEY0"}
    found |= {private[i : i + 12] for i in range(len(private) - 11)}
    for shift in range(3):
        middle = base64.b64encode(b"\0" * shift + private.encode()).decode()[4:-4]
        found |= {middle[i : i + 12] for i in range(len(middle) - 11)}
    return {t.encode() for t in found}


def echo_text(headers: dict[str, str], request: str, body: str) -> str:
    token = headers.get("x-api-key") or headers.get("x-goog-api-key") or headers.get("authorization", "")[7:]
    return (
        f"invalid credentials.{ESCAPES} Authorization: {headers.get('authorization', '')}; "
        f"x-api-key: {headers.get('x-api-key', '')}; x-goog-api-key={headers.get('x-goog-api-key', '')}; "
        f"you sent {token} (as {quote(token, safe='')}, as Basic {base64.b64encode(b'u:' + token.encode()).decode()}"
        f", and {token[5:17]}); request {request} body {body!r}"
    )


class EchoApi(LocalServer):
    """Answers every request on the path's provider status with a body that echoes what it was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []  # every body served (the search must find the keys here)
        self.status = dict(STATUS)
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self._echo()

            def do_POST(self) -> None:  # noqa: N802
                self._echo()

            def _echo(self) -> None:
                size = min(int(self.headers.get("content-length") or 0), 65536)
                body = self.rfile.read(size).decode(errors="replace")
                headers = {k.lower(): v for k, v in self.headers.items()}
                text = echo_text(headers, self.requestline, body)
                provider = api.provider_of(urlsplit(self.path).path, headers)
                status = api.status[provider]
                if status == 200:
                    doc: dict[str, Any] = {"code": 1001, "message": text, "data": None}
                else:
                    doc = {"error": {"message": text, "type": "invalid_request_error"}, "message": text}
                raw = json.dumps(doc).encode()
                with api.lock:
                    api.sent.append(raw.decode())
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    if status == 429:
                        self.send_header("retry-after", "0")
                    self.send_header("content-length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)

            def log_message(self, *_: Any) -> None:
                pass

        super().__init__(Handler)

    @staticmethod
    def provider_of(path: str, headers: dict[str, str]) -> str:
        """Which provider asked: each one's key is on its own header value."""
        sent = " ".join(headers.get(h, "") for h in ("authorization", "x-api-key", "x-goog-api-key"))
        return next((p for p, k in FAKE_KEYS.items() if k in sent), "openai")


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args], input=stdin.encode(), capture_output=True, env=env, timeout=RUN_TIMEOUT_S
    )


def leaks(haystacks: dict[str, bytes]) -> dict[str, str]:
    marks = {t for key in FAKE_KEYS.values() for t in traces(key)}
    return {where: t.decode() for where, text in haystacks.items() for t in marks if t in text}


def test_echoed_keys_are_never_printed_stored_or_listed(
    secret_service: SecretService,
    echo: EchoApi,
    tmp_path: Path,
    tokenclub_home: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "index.sqlite"
    env = {**os.environ, **secret_service.env(), "TOKENCLUB_HOME": str(tokenclub_home)}
    urls = [f"--base-url={p}={echo.url}{PREFIXES[p]}" for p in FAKE_KEYS]
    assert run(env, "provider", "config", *urls).returncode == 0
    for provider, key in FAKE_KEYS.items():
        kind = ["--kind", "admin"] if provider == "openrouter" else []
        added = run(env, "keys", "add", provider, "--label", "echo", *kind, stdin=key + "\n")
        assert added.returncode == 0, added.stderr

    outputs: dict[str, subprocess.CompletedProcess[bytes]] = {}
    for args in [  # each key test and sync with the 500 waits 15 s between its tries: the table forms once each
        ("keys", "test", "--json"),
        ("keys", "test", "openrouter"),
        ("provider", "sync", "--json", "--db", str(db)),
        ("provider", "sync", "openai", "--db", str(db)),
        ("provider", "list", "--db", str(db)),
        ("provider", "list", "--json", "--db", str(db)),
        ("provider", "balances", "--no-fetch", "--db", str(db)),
    ]:
        outputs[" ".join(args[:3])] = run(env, *args)

    # every key failed: keys test and provider sync say so by their exit status
    assert {k: v.returncode for k, v in outputs.items() if " list " not in k and "balances" not in k} == {
        "keys test --json": 1,
        "keys test openrouter": 1,
        "provider sync --json": 1,
        "provider sync openai": 1,
    }
    assert outputs["provider list --db"].returncode == 0 and outputs["provider list --json"].returncode == 0
    tested = {r["provider"]: r for r in json.loads(outputs["keys test --json"].stdout)["keys"]}
    assert {p: (r["ok"], r["error_kind"]) for p, r in tested.items()} == {
        "openai": (False, "refused"),
        "anthropic": (False, "refused"),
        "openrouter": (False, "refused"),
        "deepseek": (False, "server error"),
        "moonshot": (False, "refused"),
        "siliconflow": (False, "rate-limited"),
        "gemini": (False, "refused"),
    }
    assert tested["anthropic"]["result"].startswith("anthropic: HTTP 400: invalid credentials.")
    assert f"x-api-key: {MARK}" in tested["anthropic"]["result"]
    assert tested["deepseek"]["result"] == "deepseek: gave up after 5 tries: HTTP 500 (server error)"
    synced = json.loads(outputs["provider sync --json"].stdout)["results"]
    assert {r["kind"] for r in synced if not r["ok"]} == {"refused", "server error", "rate-limited"}
    listed = {r["provider"]: r for r in json.loads(outputs["provider list --json"].stdout)["providers"]}
    assert listed["openai"]["last_error_kind"] == "refused" and MARK in listed["openai"]["last_error"]
    assert listed["deepseek"]["last_error_kind"] == "server error"
    assert all(len(r["last_error"]) <= 600 for r in listed.values())

    echo.status["gemini"] = 200  # Gemini's key test reads nothing from the answer: it passes
    outputs["keys test gemini"] = run(env, "keys", "test", "gemini")
    assert outputs["keys test gemini"].returncode == 0, outputs["keys test gemini"].stderr

    files = [p for p in [*tokenclub_home.rglob("*"), *tmp_path.glob("index.sqlite*")] if p.is_file()]
    haystacks = {
        **{f"{name} {part}": getattr(done, part) for name, done in outputs.items() for part in ("stdout", "stderr")},
        **{str(p): p.read_bytes() for p in files},
        "log records": "\n".join(r.getMessage() for r in caplog.records).encode(),
    }
    assert leaks(haystacks) == {}
    printed = b"".join(getattr(done, part) for done in outputs.values() for part in ("stdout", "stderr"))
    for control in (b"\x1b", b"\\u001b", b"\x07", "\u202e".encode(), b"\\u202e"):  # no escape, no bidi override
        assert control not in printed
    # the search would have found them: every key went out and came back in a body
    assert set(leaks({"served": "\n".join(echo.sent).encode()})) == {"served"}
    assert all(any(key in body for body in echo.sent) for key in FAKE_KEYS.values())


def _old_index(path: Path, leaked: str) -> None:
    """An index written before the failure's kind was kept: its last error holds the key, word for word."""
    from app.core.schema import connect

    connect(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    for table in ("provider_usage", "provider_sync", "provider_balances"):  # as schema 5 left them: not there
        conn.execute(f"DROP TABLE {table}")
    conn.execute("PRAGMA user_version = 5")
    conn.execute(
        "CREATE TABLE provider_sync(provider TEXT NOT NULL, label TEXT NOT NULL, covered_from TEXT,"
        " covered_to TEXT, last_ok INTEGER, last_attempt INTEGER, last_error TEXT, PRIMARY KEY (provider, label))"
    )
    conn.execute(
        "CREATE TABLE provider_balances(provider TEXT NOT NULL, label TEXT NOT NULL, currency TEXT NOT NULL,"
        " total REAL NOT NULL, granted REAL, topped_up REAL, detail TEXT, fetched_at INTEGER NOT NULL,"
        " PRIMARY KEY (provider, label, currency))"
    )
    conn.execute(
        "INSERT INTO provider_sync VALUES ('openrouter', 'old', '2025-01-01', '2025-01-02', 1, 2, ?)", (leaked,)
    )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_an_old_index_with_a_leaked_key_shows_and_keeps_none_of_it(tmp_path: Path, tokenclub_home: Path) -> None:
    key = FAKE_KEYS["openrouter"]
    db = tmp_path / "index.sqlite"
    _old_index(db, f'openrouter: the key was refused (401: bad header "Authorization: Bearer {key}" for {key})')
    assert key.encode() in db.read_bytes()
    env = {**os.environ, "TOKENCLUB_HOME": str(tokenclub_home)}
    done = run(env, "provider", "list", "--json", "--db", str(db))
    assert done.returncode == 0, done.stderr
    [row] = [r for r in json.loads(done.stdout)["providers"] if r["provider"] == "openrouter"]
    assert row["last_error"] == f"openrouter: the key was refused (401: bad header Authorization: {MARK} for {MARK})"
    assert row["last_error_kind"] == ""  # not known for a message stored before kinds were
    files = {p.name: p.read_bytes() for p in tmp_path.glob("index.sqlite*")}
    assert leaks({"provider list": done.stdout + done.stderr, **files}) == {}
    # the old rows stay readable: the rest of the key's state is as it was
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT covered_from, covered_to, last_ok FROM provider_sync").fetchall() == [
        ("2025-01-01", "2025-01-02", 1)
    ]
    conn.close()


def test_a_leaked_message_written_after_the_migration_is_redacted_when_read(tmp_path: Path) -> None:
    from app.providers import sync
    from app.providers.store import open_index

    conn = open_index(tmp_path / "index.sqlite")
    key = FAKE_KEYS["anthropic"]
    conn.execute(
        "INSERT INTO provider_sync(provider, label, last_error, error_kind) VALUES ('anthropic', 'x', ?, 'refused')",
        (f"anthropic: HTTP 400: x-api-key: {key}\x1b[2J",),
    )
    [state] = sync.status(conn)
    conn.close()
    assert state["last_error"] == f"anthropic: HTTP 400: x-api-key: {MARK} [2J" and state["error_kind"] == "refused"


KEY = "sk-proj-Zq81mW0pLx7vR2nT5bK9cY3dF6gH4jQ"


@pytest.mark.parametrize(
    ("text", "secrets", "shown"),
    [
        (f"you sent {KEY}", (KEY,), f"you sent {MARK}"),
        (f"bad key …{KEY[12:24]}…", (KEY,), f"bad key …{MARK}…"),  # 12 characters of it
        (f"ends in {KEY[-8:]}.", (KEY,), f"ends in {MARK}."),  # 8 are enough
        (f"ends in {KEY[-7:]}.", (KEY,), f"ends in {KEY[-7:]}."),  # 7 are not
        (f"quoted {quote('Zq81mW0p/Lx7vR2+nT5bK9cY', safe='')}", ("Zq81mW0p/Lx7vR2+nT5bK9cY",), f"quoted {MARK}"),
        ("as " + base64.b64encode(f"user:{KEY}".encode()).decode(), (KEY,), f"as {MARK}"),
        ("Authorization: Bearer abc.def-ghi", (), f"Authorization: {MARK}"),
        ('{"authorization": "Basic dXNlcjpwYXNz"}', (), f"{{authorization: {MARK}}}"),
        ("header x-api-key: whatever123 was wrong", (), f"header x-api-key: {MARK} was wrong"),
        ("x-goog-api-key=zzz&alt=json", (), f"x-goog-api-key: {MARK}&alt=json"),
        ("token bearer s3cr3t-t0ken.value here", (), f"token {MARK} here"),
        ("key sk-0123456789abcdefghijklmnop!", (), f"key {MARK}!"),
        ("key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx-yz", (), f"key {MARK}"),
        ("key sk-or-v1-0123456789abcdef0123456789abcdef", (), f"key {MARK}"),
        ("key AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStU done", (), f"key {MARK} done"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl end", (), f"jwt {MARK} end"),
        ("id 0123456789abcdef0123456789abcdef end", (), f"id {MARK} end"),
        ("blob QWxhZGRpbjpvcGVuIHNlc2FtZQ9xYz== end", (), f"blob {MARK} end"),
        ("red \x1b[31mtext\x1b[0m\x07 \u202eevil\r\nnext", (), "red [31mtext [0m evil next"),
    ],
)
def test_redact_each_shape(text: str, secrets: tuple[str, ...], shown: str) -> None:
    assert redact(text, secrets) == shown


@pytest.mark.parametrize(
    "text",
    [
        "openai: the key was refused (401: Incorrect API key provided); this endpoint needs an OpenAI admin key "
        "(sk-admin-…, created under Organization settings → Admin keys)",
        "anthropic: needs an Anthropic Admin API key (sk-ant-admin…, created by an organization admin)",
        "GET /v1/organizations/usage_report/messages?starting_at=2025-08-01T00:00:00Z",
        "model claude-3-5-sonnet-20241022 and gemini-2.5-flash-preview-05-20, request 7f3a9c2e-1b4d-4e8f-9a6b",
        "deepseek: cannot reach http://127.0.0.1:9 (ConnectError)",
        "invalid x-api-key",
    ],
)
def test_redact_keeps_ordinary_text(text: str) -> None:
    assert redact(text, limit=1000) == text


def test_redact_bounds_and_keeps_the_public_prefix() -> None:
    key = FAKE_KEYS["anthropic"]
    assert redact("x" * 5000) == "x" * 299 + "…"
    assert len(redact("y " * 10_000, limit=50)) == 50
    # the prefix every such key shares is not the secret; messages name it
    assert redact(f"needs sk-ant-admin…; got {key[15:]}", (key,)) == f"needs sk-ant-admin…; got {MARK}"
    deepseek = (FAKE_KEYS["deepseek"],)  # a test key that spells its provider's name
    assert redact("a run of deepseek in a provider's words", deepseek) == f"a run of {MARK} in a provider's words"
    assert redact("deepseek: our own words", deepseek, runs=False) == "deepseek: our own words"


def test_only_credential_headers_are_secrets(api: FakeApi) -> None:
    from app.providers.anthropic import Anthropic
    from app.providers.base import ProviderError

    said = f"anthropic-version 2023-06-01 does not take x-api-key {KEY[8:]} here"
    api.route("/v1/models", Reply({"error": {"message": said}}, 400))
    with pytest.raises(ProviderError) as err:
        Anthropic(api.url).test("sk-ant-api03-" + KEY[8:])  # a regular key: the models endpoint
    assert str(err.value) == f"anthropic: HTTP 400: anthropic-version 2023-06-01 does not take x-api-key {MARK} here"
    assert err.value.kind == "refused"
