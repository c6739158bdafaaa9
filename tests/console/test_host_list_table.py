"""`host list` prints a table with a header row and a rule, as every other table of the CLI does."""

from __future__ import annotations

import json
from pathlib import Path

from app.console.hosts import registry_file
from tests.console.conftest import tokenclub


def test_host_list_has_a_header_row(tmp_path: Path) -> None:
    registry = registry_file()  # under this test's own TOKENCLUB_HOME
    registry.parent.mkdir(parents=True, exist_ok=True)
    hosts = {"agent-box": {"ssh": "dev@127.0.0.1", "port": 22}, "gpu": {"ssh": "me@127.0.0.1", "port": 2222}}
    registry.write_text(json.dumps({"hosts": hosts}))
    lines = tokenclub("host", "list", home=tmp_path).stdout.splitlines()
    assert lines[0].split() == ["host", "ssh", "host", "key"]
    assert set(lines[1].replace(" ", "")) == {"─"}
    assert lines[2].split() == ["agent-box", "dev@127.0.0.1:22", "(no", "key", "pinned)"]
    assert lines[3].split()[:2] == ["gpu", "me@127.0.0.1:2222"]
    assert len(lines) == 4
