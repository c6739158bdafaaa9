"""Provider APIs: keys in the OS keyring; usage, cost and balances over httpx. Qt-free.

This module stays light (the command line builds its parser from ``IDS`` on every start);
a provider's module, and httpx with it, loads on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from threading import Event

    from app.providers.base import Provider

# id -> (module, class, title)
_REGISTRY = {
    "openai": ("openai", "OpenAI", "OpenAI"),
    "anthropic": ("anthropic", "Anthropic", "Anthropic"),
    "openrouter": ("openrouter", "OpenRouter", "OpenRouter"),
    "deepseek": ("deepseek", "DeepSeek", "DeepSeek"),
    "moonshot": ("moonshot", "Moonshot", "Moonshot (Kimi)"),
    "siliconflow": ("siliconflow", "SiliconFlow", "SiliconFlow"),
    "gemini": ("gemini", "Gemini", "Google Gemini"),
}
IDS = tuple(_REGISTRY)
TITLES = {k: v[2] for k, v in _REGISTRY.items()}


def provider_class(provider: str) -> type[Provider]:
    module, name, _ = _REGISTRY[provider]
    cls: type[Provider] = getattr(import_module(f"app.providers.{module}"), name)
    return cls


def get(provider: str, base_url: str | None = None, cancel: Event | None = None) -> Provider:
    """The client for ``provider``, at ``base_url`` or, if None, the one in the provider settings.

    ``cancel``, once set, stops its retries and further requests (the app is quitting).
    """
    if base_url is None:
        from app.providers import config

        base_url = config.load().base_urls.get(provider)
    return provider_class(provider)(base_url, cancel=cancel)
