"""Moonshot (Kimi): account balance (``GET /v1/users/me/balance``, platform.moonshot.ai/docs/api/balance).

The international platform (api.moonshot.ai) bills in USD, the Chinese one (api.moonshot.cn) in CNY.
"""

from __future__ import annotations

from app.core.redact import redact
from app.providers.base import REFUSED, Balance, Provider, ProviderError, need, num


class Moonshot(Provider):
    id = "moonshot"
    title = "Moonshot (Kimi)"
    default_base_url = "https://api.moonshot.ai/v1"
    has_balance = True
    no_usage_reason = "has no usage endpoint (balance only)"

    def balance(self, key: str) -> list[Balance]:
        with self.http(key) as http:
            doc = http.get_json("/users/me/balance", needs="a valid Moonshot API key")
        if isinstance(doc, dict) and doc.get("code") not in (0, None):
            said = redact(doc.get("message", ""), http.secrets)
            raise http.error(f"error code {redact(doc.get('code'), http.secrets, 40)}: {said}", kind=REFUSED)
        data = need(self.id, doc, "data", dict)
        if "available_balance" not in data:
            raise ProviderError(self.id, "unexpected answer: no available_balance")
        currency = "CNY" if ".cn" in self.base_url else "USD"
        return [
            Balance(
                currency,
                num(data["available_balance"]),
                num(data.get("voucher_balance")),
                num(data.get("cash_balance")),
                "granted = vouchers, topped up = cash",
            )
        ]
