"""``python -m app``: the same as the ``tokenclub`` command."""

from app.cli import main

raise SystemExit(main())
