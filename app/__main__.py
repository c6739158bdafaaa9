"""``python -m app``: the same as the ``tokenclub`` command."""

from app.launch import entry

entry()
