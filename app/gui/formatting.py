"""Numbers as the dashboard prints them: compact token counts, dollars, rates."""

from __future__ import annotations

from datetime import date, datetime

_UNITS = ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K"))


def tokens(n: float | None) -> str:
    """A token count in three significant figures at most: 950, 12.3K, 1.2M, 123M, 1.3B."""
    if n is None:
        return "–"
    sign = "-" if n < 0 else ""
    n = abs(n)
    for div, suffix in _UNITS:
        if n >= div * 0.9995:
            value = n / div
            text = f"{value:.0f}" if value >= 99.95 else f"{value:.1f}"
            return f"{sign}{text.removesuffix('.0')}{suffix}"
    return f"{sign}{n:.0f}"


def axis_tokens(n: float) -> str:
    """An axis tick: 0, 500K, 10M, 250M, 1B, 1.5B (no trailing zeros)."""
    if n == 0:
        return "0"
    for div, suffix in _UNITS:
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}"
    return f"{n:.3g}"


def usd(x: float | None) -> str:
    """Dollars: $3.40, $1,234, and cents below a dollar ($0.042); None is unpriced."""
    if x is None:
        return "unpriced"
    if abs(x) >= 1000:
        return f"${x:,.0f}"
    if 0 < abs(x) < 0.1:
        return f"${x:.3f}"
    return f"${x:,.2f}"


def cost(usd_value: float | None, unpriced_tokens: int | None) -> str:
    """A cost that may leave tokens unpriced: $3.40, "≥ $3.40" (some unpriced) or "unpriced" (none priced)."""
    if not unpriced_tokens:
        return usd(usd_value)
    return f"≥ {usd(usd_value)}" if usd_value else "unpriced"


def percent(rate: float | None) -> str:
    """A 0..1 rate as 93.1%; None (no prompt tokens) as a dash."""
    return "–" if rate is None else f"{rate * 100:.1f}%"


def exact(n: int | None) -> str:
    """Every digit, grouped: 1,234,567."""
    return "–" if n is None else f"{n:,}"


def day_label(iso: str) -> str:
    """2026-11-20 -> Fri 20 Nov 2026."""
    return date.fromisoformat(iso).strftime("%a %d %b %Y")


def timestamp(iso: str | None) -> str:
    """An ISO UTC instant in local time to the minute: 2026-11-20 14:05."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M")


def data_size(n: int) -> str:
    """Bytes as 950 B, 12.3 KB, 1.2 MB, 3.4 GB (decimal units, as disks and `ls -h --si` count)."""
    for div, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "KB")):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"
