"""SiliconFlow: account balance from ``GET /v1/user/info``.

Documented at docs.siliconflow.cn/cn/api-reference/userinfo/get-user-info.

api.siliconflow.cn bills in CNY, api.siliconflow.com in USD.
"""

from __future__ import annotations

from app.core.redact import redact
from app.providers.base import REFUSED, Balance, Provider, ProviderError, need, num


class SiliconFlow(Provider):
    id = "siliconflow"
    title = "SiliconFlow"
    default_base_url = "https://api.siliconflow.cn/v1"
    has_balance = True
    no_usage_reason = "has no usage endpoint (balance only)"

    def balance(self, key: str) -> list[Balance]:
        with self.http(key) as http:
            doc = http.get_json("/user/info", needs="a valid SiliconFlow API key")
        if isinstance(doc, dict) and doc.get("code") not in (20000, None):
            said = redact(doc.get("message", ""), http.secrets)
            raise http.error(f"error code {redact(doc.get('code'), http.secrets, 40)}: {said}", kind=REFUSED)
        data = need(self.id, doc, "data", dict)
        if "totalBalance" not in data:
            raise ProviderError(self.id, "unexpected answer: no totalBalance")
        currency = "USD" if self.base_url.split("/")[2].endswith(".com") else "CNY"
        return [
            Balance(
                currency,
                num(data["totalBalance"]),
                num(data.get("balance")),
                num(data.get("chargeBalance")),
                "granted = gift balance, topped up = charged",
            )
        ]
