"""DeepSeek: account balance (``GET /user/balance``, api-docs.deepseek.com/api/get-user-balance)."""

from __future__ import annotations

from app.providers.base import Balance, Provider, ProviderError, need, num


class DeepSeek(Provider):
    id = "deepseek"
    title = "DeepSeek"
    default_base_url = "https://api.deepseek.com"
    has_balance = True
    no_usage_reason = "has no usage endpoint (balance only; see platform.deepseek.com/usage)"

    def balance(self, key: str) -> list[Balance]:
        with self.http(key) as http:
            doc = http.get_json("/user/balance", needs="a valid DeepSeek API key")
        out = []
        for info in need(self.id, doc, "balance_infos"):
            if not isinstance(info, dict) or "total_balance" not in info:
                raise ProviderError(self.id, "unexpected answer: a balance without total_balance")
            out.append(
                Balance(
                    str(info.get("currency", "?")),
                    num(info["total_balance"]),
                    num(info.get("granted_balance")),
                    num(info.get("topped_up_balance")),
                    "" if doc.get("is_available", True) else "not available for API calls",
                )
            )
        return out
