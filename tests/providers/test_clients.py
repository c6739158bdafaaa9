"""Each provider against its documented responses, over a real socket to a local server (the base URL setting)."""

from __future__ import annotations

from datetime import date

import pytest

from app.providers import get
from app.providers.base import MAX_ATTEMPTS, MAX_TOTAL_WAIT_S, KeyRefused, NoUsageEndpoint, ProviderError, UsageRow
from tests.httpserver import FakeApi, Reply
from tests.providers.conftest import FAKE_KEYS, fixture_json, fixture_text


def client(provider: str, api: FakeApi, prefix: str = "", waits: list[float] | None = None):  # type: ignore[no-untyped-def]
    p = get(provider, api.url + prefix)
    p.sleep = (waits if waits is not None else []).append
    return p


def test_openai_usage_and_costs_follow_pages(api: FakeApi) -> None:
    api.route(
        "/v1/organization/usage/completions",
        Reply(fixture_json("openai_usage_completions_page1.json")),
        Reply(fixture_json("openai_usage_completions_page2.json")),
    )
    api.route("/v1/organization/costs", Reply(fixture_json("openai_costs.json")))
    got = client("openai", api, "/v1").usage(FAKE_KEYS["openai"], date(2024, 11, 1), date(2024, 11, 2))
    assert got.rows == [
        UsageRow("2024-11-01", "(unspecified)", 500, 100, 400, 500, 5, 0.06),
        UsageRow("2024-11-02", "gpt-4o-mini-2024-07-18", 3000, 200, 1800, 1000, 5, None),
    ]
    assert any("without a model name" in w for w in got.warnings)  # the documented example is not grouped by model
    usage = [r for r in api.requests if r["path"].endswith("/completions")]
    assert "page" not in usage[0]["query"] and usage[1]["query"]["page"] == ["page_AAAAAGdGxdEiJdKOAAAAAGcqsYA="]
    assert usage[0]["query"]["bucket_width"] == ["1d"] and usage[0]["query"]["group_by"] == ["model"]
    assert usage[0]["query"]["start_time"] == ["1730419200"] and usage[0]["query"]["end_time"] == ["1730592000"]
    assert all(r["headers"]["authorization"] == f"Bearer {FAKE_KEYS['openai']}" for r in api.requests)


def test_openai_401_names_the_admin_key(api: FakeApi) -> None:
    api.route("/v1/organization/usage/completions", Reply(fixture_json("openai_error_401.json"), 401))
    with pytest.raises(KeyRefused) as err:
        client("openai", api, "/v1").usage("sk-proj-regularKEY0000000000000000", date(2024, 11, 1), date(2024, 11, 1))
    text = str(err.value)
    assert text.startswith("openai: the key was refused (401: Incorrect API key provided")
    assert "admin key (sk-admin-" in text and "regularKEY" not in text


def test_anthropic_usage_and_cost_reports(api: FakeApi) -> None:
    api.route(
        "/v1/organizations/usage_report/messages",
        Reply(fixture_json("anthropic_usage_report_page1.json")),
        Reply(fixture_json("anthropic_usage_report.json")),
    )
    api.route("/v1/organizations/cost_report", Reply(fixture_json("anthropic_cost_report.json")))
    got = client("anthropic", api).usage(FAKE_KEYS["anthropic"], date(2025, 7, 31), date(2025, 8, 1))
    assert got.rows == [
        UsageRow("2025-07-31", "claude-sonnet-4-20250514", 10, 100, 1000, 50, 0, None),
        UsageRow("2025-08-01", "claude-sonnet-4-20250514", 1500, 1500, 200, 500, 0, 2.0),  # 123.45 + 76.55 cents
    ]
    assert got.warnings == []
    usage = [r for r in api.requests if r["path"].endswith("/messages")]
    assert usage[1]["query"]["page"] == ["page_MjAyNS0wOC0wMVQwMDowMDowMFo="]
    assert usage[0]["query"]["starting_at"] == ["2025-07-31T00:00:00Z"]
    assert usage[0]["query"]["group_by[]"] == ["model"]
    headers = api.requests[0]["headers"]
    assert headers["x-api-key"] == FAKE_KEYS["anthropic"] and headers["anthropic-version"] == "2023-06-01"


def test_anthropic_403_names_the_admin_key(api: FakeApi) -> None:
    api.route("/v1/organizations/usage_report/messages", Reply(fixture_json("anthropic_error_403.json"), 403))
    with pytest.raises(KeyRefused, match=r"^anthropic: the key was refused \(403: Your API key does not have"
                       r".*needs an Anthropic Admin API key \(sk-ant-admin"):
        client("anthropic", api).usage("sk-ant-api03-regular000000000000", date(2025, 8, 1), date(2025, 8, 1))


def test_openrouter_key_credits_and_activity(api: FakeApi) -> None:
    api.route("/api/v1/key", Reply(fixture_json("openrouter_key.json")))
    api.route("/api/v1/credits", Reply(fixture_json("openrouter_credits.json")))
    api.route("/api/v1/activity", Reply(fixture_json("openrouter_activity.json")))
    p = client("openrouter", api, "/api/v1")
    key = FAKE_KEYS["openrouter"]
    assert p.test(key) == "key valid (74.50 of 100.00 left)"
    [bal] = p.balance(key)
    assert (bal.currency, bal.total) == ("USD", 74.75)
    got = p.usage(key, date(2025, 8, 25), date(2025, 8, 31))
    assert got.rows == [UsageRow("2025-08-25", "anthropic/claude-sonnet-4", 90000, 0, 0, 10000, 3, 0.42)]


def test_openrouter_revoked_key(api: FakeApi) -> None:
    api.route("/api/v1/key", Reply(fixture_json("openrouter_error_401.json"), 401))
    with pytest.raises(KeyRefused, match=r"^openrouter: the key was refused \(401: User not found\.\)"):
        client("openrouter", api, "/api/v1").test(FAKE_KEYS["openrouter"])


def test_openrouter_regular_key_balance_falls_back_to_its_limit(api: FakeApi) -> None:
    api.route("/api/v1/credits", Reply({"error": {"code": 403, "message": "Only management keys"}}, 403))
    api.route("/api/v1/key", Reply(fixture_json("openrouter_key.json")))
    [bal] = client("openrouter", api, "/api/v1").balance(FAKE_KEYS["openrouter"])
    assert (bal.total, bal.detail) == (74.5, "this key's remaining limit")


def test_balances(api: FakeApi) -> None:
    api.route("/user/balance", Reply(fixture_json("deepseek_balance.json")))
    api.route("/v1/users/me/balance", Reply(fixture_json("moonshot_balance.json")))
    api.route("/v1/user/info", Reply(fixture_json("siliconflow_user_info.json")))
    [ds] = client("deepseek", api).balance(FAKE_KEYS["deepseek"])
    assert (ds.currency, ds.total, ds.granted, ds.topped_up) == ("CNY", 110.0, 10.0, 100.0)
    [ms] = client("moonshot", api, "/v1").balance(FAKE_KEYS["moonshot"])
    assert (ms.currency, ms.total, ms.granted, ms.topped_up) == ("USD", 49.58894, 46.58893, 3.00001)
    [sf] = client("siliconflow", api, "/v1").balance(FAKE_KEYS["siliconflow"])
    assert (sf.total, sf.granted, sf.topped_up) == (88.88, 0.88, 88.0)
    assert [r["headers"]["authorization"] for r in api.requests] == [
        f"Bearer {FAKE_KEYS[p]}" for p in ("deepseek", "moonshot", "siliconflow")
    ]


def test_balance_providers_answer_401(api: FakeApi) -> None:
    for path in ("/user/balance", "/v1/users/me/balance", "/v1/user/info"):
        api.route(path, Reply({"error": {"message": "Authentication Fails (no such user)"}}, 401))
    for provider, prefix in (("deepseek", ""), ("moonshot", "/v1"), ("siliconflow", "/v1")):
        with pytest.raises(KeyRefused, match=rf"^{provider}: the key was refused \(401: Authentication Fails"):
            client(provider, api, prefix).balance(FAKE_KEYS[provider])


def test_gemini_says_it_has_no_usage_endpoint(api: FakeApi) -> None:
    api.route("/v1beta/models", Reply(fixture_json("gemini_models.json")))
    p = client("gemini", api, "/v1beta")
    assert p.test(FAKE_KEYS["gemini"]).startswith("key valid")
    assert api.requests[0]["headers"]["x-goog-api-key"] == FAKE_KEYS["gemini"]
    assert FAKE_KEYS["gemini"] not in api.requests[0]["raw"]  # never in the URL
    with pytest.raises(NoUsageEndpoint, match="^gemini: has no usage, cost or balance endpoint for an API key"):
        p.usage(FAKE_KEYS["gemini"], date(2025, 1, 1), date(2025, 1, 2))


def test_429_waits_for_retry_after_then_succeeds(api: FakeApi) -> None:
    api.route("/user/balance", Reply({"error": "slow down"}, 429, {"retry-after": "7"}),
              Reply(fixture_json("deepseek_balance.json")))
    waits: list[float] = []
    [bal] = client("deepseek", api, waits=waits).balance(FAKE_KEYS["deepseek"])
    assert bal.total == 110.0 and waits == [7.0] and len(api.requests) == 2


def test_429_storm_gives_up_bounded(api: FakeApi) -> None:
    api.route("/user/balance", Reply({"error": "slow down"}, 429, {"retry-after": "30"}))
    waits: list[float] = []
    with pytest.raises(ProviderError, match=r"^deepseek: gave up after \d+ tries: HTTP 429 \(rate limited\)"):
        client("deepseek", api, waits=waits).balance(FAKE_KEYS["deepseek"])
    assert len(api.requests) <= MAX_ATTEMPTS and sum(waits) <= MAX_TOTAL_WAIT_S


def test_500_backs_off_and_a_500_storm_fails(api: FakeApi) -> None:
    api.route("/user/balance", Reply({"error": "oops"}, 500), Reply({"error": "oops"}, 502),
              Reply(fixture_json("deepseek_balance.json")))
    waits: list[float] = []
    assert client("deepseek", api, waits=waits).balance(FAKE_KEYS["deepseek"])[0].total == 110.0
    assert waits == [1.0, 2.0]  # exponential backoff without Retry-After
    api.route("/user/balance", Reply({"error": "oops"}, 500))
    with pytest.raises(ProviderError, match=r"HTTP 500 \(server error\)"):
        client("deepseek", api).balance(FAKE_KEYS["deepseek"])


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(raw=fixture_text("cloudflare_502.html").encode(), content_type="text/html"),
         "answered with an HTML page instead of JSON (HTTP 200)"),
        (Reply(raw=fixture_text("deepseek_balance.json")[:40].encode()), "answered with malformed or truncated JSON"),
        (Reply(raw=b"{not json"), "answered with malformed or truncated JSON"),
        (Reply({"unexpected": True}), "unexpected answer: no 'balance_infos' field"),
    ],
)
def test_bad_bodies_name_provider_and_reason(api: FakeApi, reply: Reply, reason: str) -> None:
    api.route("/user/balance", reply)
    with pytest.raises(ProviderError) as err:
        client("deepseek", api).balance(FAKE_KEYS["deepseek"])
    assert str(err.value).startswith(f"deepseek: {reason}")


def test_html_error_page_on_a_500(api: FakeApi) -> None:
    api.route("/user/balance", Reply(raw=fixture_text("cloudflare_502.html").encode(), status=502,
                                     content_type="text/html"))
    with pytest.raises(ProviderError, match="HTTP 502"):
        client("deepseek", api).balance(FAKE_KEYS["deepseek"])


def test_timeout_is_bounded(api: FakeApi) -> None:
    api.route("/user/balance", Reply(fixture_json("deepseek_balance.json"), delay=1.0))
    p = client("deepseek", api)
    p.timeout = 0.2
    with pytest.raises(ProviderError, match=r"^deepseek: gave up after 5 tries: no answer within 0.2 s \(timeout\)"):
        p.balance(FAKE_KEYS["deepseek"])


def test_unreachable_base_url() -> None:
    p = get("deepseek", "http://127.0.0.1:9")
    with pytest.raises(ProviderError, match=r"^deepseek: cannot reach http://127.0.0.1:9 \(ConnectError\)"):
        p.balance(FAKE_KEYS["deepseek"])


def test_paging_that_repeats_a_cursor_stops(api: FakeApi) -> None:
    page = fixture_json("openai_usage_completions_page1.json")  # has_more with the same cursor, forever
    api.route("/v1/organization/usage/completions", Reply(page))
    with pytest.raises(ProviderError, match="repeated a page cursor"):
        client("openai", api, "/v1").usage(FAKE_KEYS["openai"], date(2024, 11, 1), date(2024, 11, 2))
    assert len(api.requests) == 2


def test_cancel_ends_a_retry_wait_at_once(api: FakeApi) -> None:
    import threading
    import time

    from app.providers.base import Cancelled

    api.route("/user/balance", Reply({"error": "slow down"}, 429, {"retry-after": "30"}))
    waiting = threading.Event()

    class Cancel(threading.Event):
        """The app's quit signal; tells the test when the client starts its retry wait on it."""

        def wait(self, timeout: float | None = None) -> bool:
            waiting.set()
            return super().wait(timeout)

    cancel = Cancel()
    cancelled_at: list[float] = []

    def quit_once_waiting() -> None:  # the cancel comes while the 30 s retry wait runs, whatever the load
        if waiting.wait(60):
            cancelled_at.append(time.monotonic())
            cancel.set()

    quitter = threading.Thread(target=quit_once_waiting, daemon=True)
    quitter.start()
    with pytest.raises(Cancelled, match="^deepseek: cancelled"):
        get("deepseek", api.url, cancel=cancel).balance(FAKE_KEYS["deepseek"])
    ended = time.monotonic()
    quitter.join(60)
    assert cancelled_at and ended - cancelled_at[0] < 10 and len(api.requests) == 1


def test_a_redirect_is_not_followed(api: FakeApi) -> None:
    api.route("/user/balance", Reply(None, 302, {"location": "http://127.0.0.2:9/steal"}))
    with pytest.raises(ProviderError, match=r"^deepseek: HTTP 302: redirected elsewhere, not followed"):
        client("deepseek", api).balance(FAKE_KEYS["deepseek"])
    assert len(api.requests) == 1
