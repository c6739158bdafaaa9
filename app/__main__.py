"""``python -m app``: the same as the ``tokenclub`` command."""

from app.cli.launch import entry

entry()
