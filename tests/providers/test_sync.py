"""Sync into the index: provisional days fetched again, faults keep the last good data, balances and thresholds."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from app.providers import config, keys, sync
from app.providers.store import open_index
from tests.httpserver import FakeApi, Reply
from tests.providers.conftest import FAKE_KEYS, MemoryKeyring, fixture_json


def point_at(api: FakeApi, **prefixes: str) -> None:
    cfg = config.load()
    for provider, prefix in prefixes.items():
        cfg.base_urls[provider] = api.url + prefix
    config.save(cfg)


def rows(conn: Any) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT day, model, inp, cw, cr, out, requests, cost, provisional FROM provider_usage ORDER BY day, model"
    ).fetchall()


@pytest.fixture
def anthropic(api: FakeApi, memory_keyring: MemoryKeyring) -> FakeApi:
    keys.add("anthropic", FAKE_KEYS["anthropic"], "org")
    point_at(api, anthropic="")
    api.route("/v1/organizations/usage_report/messages", Reply(fixture_json("anthropic_usage_report.json")))
    api.route("/v1/organizations/cost_report", Reply(fixture_json("anthropic_cost_report.json")))
    return api


def test_sync_writes_rows_and_marks_recent_days_provisional(anthropic: FakeApi, tmp_path: Path) -> None:
    conn = open_index(tmp_path / "index.sqlite")
    [result] = sync.sync(conn, today=date(2025, 8, 2), days=3)
    assert result.ok and result.rows == 1
    assert rows(conn) == [("2025-08-01", "claude-sonnet-4-20250514", 1500, 1500, 200, 500, 0, 2.0, 1)]
    assert anthropic.requests[0]["query"]["starting_at"] == ["2025-07-31T00:00:00Z"]
    assert keys.select("anthropic")[0].last_used is not None
    # the next sync starts again at the oldest provisional day, not after the last day covered
    anthropic.requests.clear()
    sync.sync(conn, today=date(2025, 8, 5))
    assert anthropic.requests[0]["query"]["starting_at"] == ["2025-08-01T00:00:00Z"]
    assert rows(conn) == [("2025-08-01", "claude-sonnet-4-20250514", 1500, 1500, 200, 500, 0, 2.0, 0)]
    conn.close()


@pytest.mark.parametrize(
    "fault",
    [
        Reply(raw=b'{"data": [{"starting_at": "2025-08-01T00:00:00Z", "resul'),
        Reply(raw=b"<html><body>502 Bad gateway</body></html>", status=200, content_type="text/html"),
        Reply({"error": {"type": "authentication_error", "message": "invalid x-api-key"}}, 401),
        Reply({"error": "boom"}, 500),
    ],
)
def test_a_fault_keeps_the_last_good_data(anthropic: FakeApi, tmp_path: Path, fault: Reply) -> None:
    conn = open_index(tmp_path / "index.sqlite")
    sync.sync(conn, today=date(2025, 8, 2), days=3)
    before = rows(conn)
    # the usage report arrives whole, then the cost report fails: nothing of this sync is written
    anthropic.route("/v1/organizations/usage_report/messages", Reply({"data": [], "has_more": False}))
    anthropic.route("/v1/organizations/cost_report", fault)
    [result] = sync.sync(conn, today=date(2025, 8, 2), days=3, secret=lambda info: FAKE_KEYS["anthropic"])
    assert not result.ok and result.message.startswith("anthropic: ")
    assert rows(conn) == before
    [state] = sync.status(conn)
    assert state["last_error"] == result.message and state["covered_to"] == "2025-08-02"
    conn.close()


def test_unknown_model_is_kept_and_named(api: FakeApi, memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    keys.add("openai", FAKE_KEYS["openai"])
    point_at(api, openai="/v1")
    api.route("/v1/organization/usage/completions", Reply(fixture_json("openai_usage_completions_page2.json")))
    page = fixture_json("openai_usage_completions_page2.json")
    page["data"][0]["results"][0]["model"] = None
    api.route("/v1/organization/usage/completions", Reply(page))
    api.route("/v1/organization/costs", Reply(fixture_json("openai_costs.json")))
    conn = open_index(tmp_path / "index.sqlite")
    [result] = sync.sync(conn, today=date(2024, 11, 2), days=2)
    assert result.ok
    assert result.warnings == ("openai: the report has usage without a model name; kept as (unspecified)",)
    assert [r[1] for r in rows(conn)] == ["(unspecified)", "(unspecified)"]
    conn.close()


def test_regular_keys_skip_admin_endpoints(api: FakeApi, memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    keys.add("openai", "sk-proj-regular0000000000000000000000")
    conn = open_index(tmp_path / "index.sqlite")
    [result] = sync.sync(conn)
    assert result.ok and "need an OpenAI admin key" in result.message and api.requests == []
    conn.close()


def test_balances_and_low_balance_threshold(api: FakeApi, memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    keys.add("deepseek", FAKE_KEYS["deepseek"], low_balance=200)
    keys.add("moonshot", FAKE_KEYS["moonshot"], low_balance=10)
    point_at(api, deepseek="", moonshot="/v1")
    api.route("/user/balance", Reply(fixture_json("deepseek_balance.json")))
    api.route("/v1/users/me/balance", Reply(fixture_json("moonshot_balance.json")))
    conn = open_index(tmp_path / "index.sqlite")
    assert all(r.ok for r in sync.sync(conn))
    got = {(b["provider"], b["balance"], b["currency"], b["low"]) for b in sync.balances(conn)}
    assert got == {("deepseek", 110.0, "CNY", True), ("moonshot", 49.58894, "USD", False)}
    # a failing balance keeps the last one read
    api.route("/user/balance", Reply(raw=b"{trunc"))
    result = sync.sync_balance(conn, keys.select("deepseek")[0])
    assert not result.ok and result.message == "deepseek: answered with malformed or truncated JSON (6 bytes)"
    assert [b["balance"] for b in sync.balances(conn) if b["provider"] == "deepseek"] == [110.0]
    conn.close()


def test_locked_keyring_during_sync(api: FakeApi, memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    keys.add("deepseek", FAKE_KEYS["deepseek"])
    memory_keyring.locked = True
    conn = open_index(tmp_path / "index.sqlite")
    [result] = sync.sync(conn)
    assert not result.ok and result.message.startswith("deepseek: the keyring is locked")
    conn.close()
