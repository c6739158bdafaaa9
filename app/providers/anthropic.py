"""Anthropic: the Admin API's usage report (messages) and cost report, with an admin key (``sk-ant-admin…``).

Documented at platform.claude.com/docs/en/api/admin-api/usage-cost: daily buckets, paged
with ``has_more`` and ``next_page``; cost amounts are decimal strings in cents.
"""

from __future__ import annotations

from datetime import date, timedelta

from app.providers.base import (
    Fetched,
    Provider,
    UsageRow,
    day_start,
    iso_day,
    need,
    num,
    pages,
)
from app.providers.openai import add, add_cost, model_name

NEEDS_ADMIN = "an Anthropic Admin API key (sk-ant-admin…, created by an organization admin in the Console)"
VERSION = "2023-06-01"


class Anthropic(Provider):
    id = "anthropic"
    title = "Anthropic"
    default_base_url = "https://api.anthropic.com"
    admin_prefixes = ("sk-ant-admin",)
    admin_name = NEEDS_ADMIN
    has_usage = True
    usage_needs_admin = True

    def headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key, "anthropic-version": VERSION}

    def test(self, key: str) -> str:
        with self.http(key) as http:
            if self.kind_of(key) == "admin":
                start = day_start(date.today() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
                http.get_json(
                    "/v1/organizations/usage_report/messages", {"starting_at": start, "limit": 1}, needs=NEEDS_ADMIN
                )
                return "admin key: usage report readable"
            http.get_json("/v1/models", {"limit": 1}, needs="a valid Anthropic API key")
            return "API key valid (usage and cost reports need an admin key)"

    def usage(self, key: str, since: date, until: date) -> Fetched:
        window = {
            "starting_at": day_start(since).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ending_at": day_start(until + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "bucket_width": "1d",
        }
        rows: dict[tuple[str, str], UsageRow] = {}
        warnings: list[str] = []
        with self.http(key) as http:
            usage_params = {**window, "group_by[]": ["model"], "limit": 31}
            for bucket in pages(http, "/v1/organizations/usage_report/messages", usage_params, NEEDS_ADMIN):
                day = iso_day(str(bucket.get("starting_at")))
                for r in need(self.id, bucket, "results"):
                    creation = r.get("cache_creation") or {}
                    cw = int(
                        num(creation.get("ephemeral_5m_input_tokens")) + num(creation.get("ephemeral_1h_input_tokens"))
                    )
                    add(
                        rows,
                        UsageRow(
                            day,
                            model_name(self.id, r.get("model"), warnings),
                            int(num(r.get("uncached_input_tokens"))),
                            cw,
                            int(num(r.get("cache_read_input_tokens"))),
                            int(num(r.get("output_tokens"))),
                        ),
                    )
            cost_params = {**window, "group_by[]": ["description"]}
            for bucket in pages(http, "/v1/organizations/cost_report", cost_params, NEEDS_ADMIN):
                day = iso_day(str(bucket.get("starting_at")))
                for r in need(self.id, bucket, "results"):
                    if str(r.get("currency", "USD")).upper() != "USD":
                        warnings.append(f"{self.id}: a cost in {r.get('currency')} was left out (USD only)")
                        continue
                    model = model_name(self.id, r.get("model"), warnings, quiet=True)
                    add_cost(rows, day, model, num(r.get("amount")) / 100)  # cents
        return Fetched(sorted(rows.values()), sorted(set(warnings)))
