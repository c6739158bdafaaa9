"""Dollars as the reports print them: cents below a dime to a tenth of a cent, as the app shows them."""


def usd(x: float) -> str:
    """$12.40, $0.042, "<$0.001" for a priced fraction of a tenth of a cent; never "$0.00" for a cost above 0."""
    if 0 < abs(x) < 0.001:
        return "<$0.001"
    return f"${x:.3f}" if 0 < abs(x) < 0.1 else f"${x:,.2f}"
