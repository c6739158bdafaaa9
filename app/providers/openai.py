"""OpenAI: organization usage (completions) and costs, both with an admin key (``sk-admin-…``).

Documented at platform.openai.com/docs/api-reference/usage and .../usage/costs: daily
buckets (``bucket_width=1d``), paged with ``has_more`` and ``next_page``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from app.providers.base import Fetched, Provider, UsageRow, day_of, day_start, need, num, pages

NEEDS_ADMIN = "an OpenAI admin key (sk-admin-…, created under Organization settings → Admin keys)"


class OpenAI(Provider):
    id = "openai"
    title = "OpenAI"
    default_base_url = "https://api.openai.com/v1"
    admin_prefixes = ("sk-admin-",)
    admin_name = NEEDS_ADMIN
    has_usage = True
    usage_needs_admin = True

    def test(self, key: str) -> str:
        with self.http(key) as http:
            if self.kind_of(key) == "admin":
                start = int(day_start(date.today() - timedelta(days=1)).timestamp())
                http.get_json("/organization/costs", {"start_time": start, "limit": 1}, needs=NEEDS_ADMIN)
                return "admin key: organization costs readable"
            http.get_json("/models", needs="a valid OpenAI API key")
            return "API key valid (usage and costs need an admin key)"

    def usage(self, key: str, since: date, until: date) -> Fetched:
        start = int(day_start(since).timestamp())
        end = int(day_start(until + timedelta(days=1)).timestamp())
        rows: dict[tuple[str, str], UsageRow] = {}
        warnings: list[str] = []
        with self.http(key) as http:
            params: dict[str, Any] = {
                "start_time": start,
                "end_time": end,
                "bucket_width": "1d",
                "group_by": ["model"],
                "limit": 31,
            }
            for bucket in pages(http, "/organization/usage/completions", params, NEEDS_ADMIN):
                day = day_of(num(bucket.get("start_time")))
                for r in _results(self.id, bucket):
                    model = model_name(self.id, r.get("model"), warnings)
                    inp_all = int(num(r.get("input_tokens")))
                    cr = int(num(r.get("input_cached_tokens")))
                    cw = int(num(r.get("input_cache_write_tokens")))
                    inp = int(num(r["input_uncached_tokens"])) if "input_uncached_tokens" in r else inp_all - cr - cw
                    add(
                        rows,
                        UsageRow(
                            day,
                            model,
                            inp,
                            cw,
                            cr,
                            int(num(r.get("output_tokens"))),
                            int(num(r.get("num_model_requests"))),
                        ),
                    )
            cost_params: dict[str, Any] = {
                "start_time": start,
                "end_time": end,
                "bucket_width": "1d",
                "group_by": ["line_item"],
                "limit": 31,
            }
            for bucket in pages(http, "/organization/costs", cost_params, NEEDS_ADMIN):
                day = day_of(num(bucket.get("start_time")))
                for r in _results(self.id, bucket):
                    amount = r.get("amount") or {}
                    if str(amount.get("currency", "usd")).lower() != "usd":
                        warnings.append(f"{self.id}: a cost in {amount.get('currency')} was left out (USD only)")
                        continue
                    item = r.get("line_item")
                    named = str(item).split(",")[0].strip() if item else None
                    add_cost(rows, day, model_name(self.id, named, warnings, quiet=True), num(amount.get("value")))
        return Fetched(sorted(rows.values()), sorted(set(warnings)))


def _results(provider: str, bucket: Any) -> list[dict[str, Any]]:
    results = need(provider, bucket, "results")
    return [r for r in results if isinstance(r, dict)]


UNSPECIFIED = "(unspecified)"


def model_name(provider: str, model: Any, warnings: list[str], quiet: bool = False) -> str:
    """The model as reported, or ``(unspecified)`` with a warning when the report names none."""
    if isinstance(model, str) and model.strip():
        return model.strip()
    if not quiet:
        warnings.append(f"{provider}: the report has usage without a model name; kept as {UNSPECIFIED}")
    return UNSPECIFIED


def add(rows: dict[tuple[str, str], UsageRow], row: UsageRow) -> None:
    old = rows.get((row.day, row.model))
    if old is None:
        rows[(row.day, row.model)] = row
        return
    cost = None if old.cost is None and row.cost is None else (old.cost or 0.0) + (row.cost or 0.0)
    rows[(row.day, row.model)] = UsageRow(
        row.day,
        row.model,
        old.inp + row.inp,
        old.cw + row.cw,
        old.cr + row.cr,
        old.out + row.out,
        old.requests + row.requests,
        cost,
    )


def add_cost(rows: dict[tuple[str, str], UsageRow], day: str, model: str, usd: float) -> None:
    add(rows, UsageRow(day, model, cost=usd))
