"""OpenRouter: key info (``/key``), credits (``/credits``) and activity (``/activity``).

Documented at openrouter.ai/docs/api-reference: ``/key`` answers for any key; ``/credits``
and ``/activity`` (the last 30 completed UTC days, grouped by model endpoint, no paging)
need a management (provisioning) key, which has the same ``sk-or-v1-`` look: mark it as
``--kind admin`` when adding it.
"""

from __future__ import annotations

from datetime import date

from app.providers.base import Balance, Fetched, KeyRefused, Provider, UsageRow, need, num
from app.providers.openai import add, model_name

NEEDS_MANAGEMENT = "an OpenRouter management (provisioning) key (add it with --kind admin)"


class OpenRouter(Provider):
    id = "openrouter"
    title = "OpenRouter"
    default_base_url = "https://openrouter.ai/api/v1"
    admin_name = NEEDS_MANAGEMENT
    has_usage = True
    usage_needs_admin = True
    has_balance = True

    def test(self, key: str) -> str:
        with self.http(key) as http:
            data = need(self.id, http.get_json("/key", needs="a valid OpenRouter API key"), "data", dict)
        limit = data.get("limit")
        left = (
            "no credit limit" if limit is None else f"{num(data.get('limit_remaining')):.2f} of {num(limit):.2f} left"
        )
        return f"key valid ({left})"

    def usage(self, key: str, since: date, until: date) -> Fetched:
        rows: dict[tuple[str, str], UsageRow] = {}
        warnings: list[str] = []
        with self.http(key) as http:
            for r in need(self.id, http.get_json("/activity", needs=NEEDS_MANAGEMENT), "data"):
                day = str(r.get("date", ""))[:10]
                try:
                    when = date.fromisoformat(day)
                except ValueError:
                    warnings.append(f"{self.id}: an activity row without a valid date was left out")
                    continue
                if not since <= when <= until:
                    continue
                add(
                    rows,
                    UsageRow(
                        day,
                        model_name(self.id, r.get("model"), warnings),
                        int(num(r.get("prompt_tokens"))),
                        0,
                        0,
                        int(num(r.get("completion_tokens"))),
                        int(num(r.get("requests"))),
                        num(r.get("usage")),
                    ),
                )
        return Fetched(sorted(rows.values()), sorted(set(warnings)))

    def balance(self, key: str) -> list[Balance]:
        with self.http(key) as http:
            try:
                data = need(self.id, http.get_json("/credits", needs=NEEDS_MANAGEMENT), "data", dict)
            except KeyRefused:  # a regular key: its own limit is what it can still spend
                info = need(self.id, http.get_json("/key", needs="a valid OpenRouter API key"), "data", dict)
                if info.get("limit") is None:
                    return []
                return [Balance("USD", num(info.get("limit_remaining")), detail="this key's remaining limit")]
        total, used = num(data.get("total_credits")), num(data.get("total_usage"))
        return [Balance("USD", round(total - used, 6), detail=f"{total:.2f} bought, {used:.2f} used")]
