"""``python -m app.cli``: the full command line (no status-line fast path)."""

from app.cli.main import entry

entry()
