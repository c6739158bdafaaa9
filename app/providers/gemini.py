"""Gemini API: a key can be tested, but Google offers no usage, cost or balance endpoint for it.

Usage and spend live in Google Cloud Billing and AI Studio's dashboards, behind OAuth,
not behind the API key: TokenClub says so instead of inventing numbers.
"""

from __future__ import annotations

from app.providers.base import Provider

NO_USAGE = (
    "has no usage, cost or balance endpoint for an API key; see aistudio.google.com (usage) "
    "or Google Cloud Billing reports. Local logs (Gemini CLI) are the only source here"
)


class Gemini(Provider):
    id = "gemini"
    title = "Google Gemini"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta"
    no_usage_reason = NO_USAGE

    def headers(self, key: str) -> dict[str, str]:
        return {"x-goog-api-key": key}  # never the ?key= query parameter: URLs end up in logs

    def test(self, key: str) -> str:
        with self.http(key) as http:
            http.get_json("/models", {"pageSize": 1}, needs="a valid Gemini API key")
        return "key valid (no usage endpoint exists for Gemini API keys)"
