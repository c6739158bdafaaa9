"""A newcomer's first minutes: no display, no logs yet, unpriced models, and where prices come from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.cli import display
from app.cli.main import main
from tests.conftest import lay_out_home

ROOT = Path(__file__).parents[1]


@pytest.fixture
def without_own_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Qwen Code's models unpriced again: the table shipped for what genai-prices lacks set aside."""
    from app.core import pricing

    monkeypatch.setattr(pricing, "OWN_PRICES", tmp_path / "no-own-prices.toml")
    monkeypatch.setattr(pricing, "_own", [])


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--db", str(tmp_path / "i.sqlite"), "--home", str(home)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", [[], ["gui"]])
def test_without_a_display_the_app_says_so_before_qt_starts(tmp_path: Path, command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["TOKENCLUB_HOME"] = str(tmp_path / "tc")
    probe = "import sys, runpy; sys.argv = ['tokenclub', *sys.argv[1:]]; from app.cli.main import main; code = main();"
    probe += " print('qt' if 'PySide6' in sys.modules else 'no qt'); sys.exit(code)"
    done = subprocess.run(
        [sys.executable, "-c", probe, *command], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stdout.strip() == "no qt"
    assert "no display found (DISPLAY and WAYLAND_DISPLAY are not set)" in done.stderr
    assert "tokenclub report daily" in done.stderr and "DISPLAY=:0" in done.stderr
    assert "Reinstalling" not in done.stderr


def test_display_problems_are_named(tmp_path: Path) -> None:
    linux = "linux"
    assert display.problem({}, linux) == "DISPLAY and WAYLAND_DISPLAY are not set"
    assert display.problem({"DISPLAY": ":4242"}, linux) == "no X server answers on DISPLAY=:4242"
    assert display.problem({"DISPLAY": "nonsense"}, linux) == "DISPLAY=nonsense is not of the form [host]:N"
    assert display.problem({"QT_QPA_PLATFORM": "offscreen"}, linux) is None  # chosen by the user: no server needed
    assert display.problem({}, "darwin") is None and display.problem({}, "win32") is None
    gone = {"WAYLAND_DISPLAY": "wayland-9", "XDG_RUNTIME_DIR": str(tmp_path)}
    assert (
        display.problem(gone, linux)
        == "the Wayland display WAYLAND_DISPLAY=wayland-9 does not answer, and DISPLAY is not set"
    )


def test_a_listening_x_socket_is_a_display(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "X5"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        assert display.problem({"DISPLAY": f"{path}:5"}, "linux") is None


def test_no_logs_yet_names_the_roots_searched(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run(capsys, tmp_path, empty, "report", "daily")
    assert code == 0
    assert "No agent has written any logs here yet. Searched:" in out
    assert "  claude-code: ~/.claude/projects, ~/.config/claude/projects" in out
    assert "tokenclub sources" in out and err == ""
    code, out, err = run(capsys, tmp_path, empty, "report", "models", "--json")  # remembered text: said again
    assert json.loads(out)["models"] == []  # the machine-readable output stays clean
    assert "No agent has written any logs here yet" in err and "codex: ~/.codex/sessions" in err


def test_logs_found_means_no_empty_note(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = lay_out_home(tmp_path / "home", ("qwen",))
    _, out, err = run(capsys, tmp_path, home, "report", "daily")
    assert "No agent has written" not in out + err


@pytest.mark.parametrize(
    ("kind", "key", "name_field"),
    [
        ("models", "models", "model"),
        ("daily", "days", None),
        ("session", "sessions", None),
        ("projects", "projects", None),
    ],
)
@pytest.mark.usefixtures("without_own_table")
def test_unpriced_is_never_zero_dollars(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str, key: str, name_field: str | None
) -> None:
    """A model without a known price: null in JSON, a dash in tables, listed under the table."""
    home = lay_out_home(tmp_path / "home", ("qwen",))
    _, out, _ = run(capsys, tmp_path, home, "report", kind, "--json", "--tz", "UTC")
    doc = json.loads(out)
    assert doc["unpriced_models"] == ["qwen3-coder-flash", "qwen3-coder-plus"]
    assert doc["totals"]["cost_usd"] is None and doc["totals"]["unpriced_tokens"] == doc["totals"]["total"] > 0
    assert all(row["cost_usd"] is None for row in doc[key] if row["total"])  # today with no calls costs $0
    if name_field:
        assert {row[name_field] for row in doc[key]} == {"qwen3-coder-flash", "qwen3-coder-plus"}
    _, out, _ = run(capsys, tmp_path, home, "report", kind, "--tz", "UTC")
    today = datetime.now(UTC).date().isoformat()  # listed by daily with no calls yet: $0.00 is its cost
    assert all("$0.00" not in line for line in out.splitlines() if not line.startswith(today))
    assert "unpriced (no price known; add them to" in out and "qwen3-coder-plus" in out.splitlines()[-1]


@pytest.mark.usefixtures("without_own_table")
def test_a_partly_priced_total_is_a_lower_bound(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = lay_out_home(tmp_path / "home", ("qwen", "claude"))
    _, out, _ = run(capsys, tmp_path, home, "report", "models")
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert rows["qwen3-coder-plus"].split()[-2] == "-"
    assert "≥ $" in rows["total"]


def test_prices_names_the_source_the_overrides_and_the_unpriced(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tokenclub_home: Path
) -> None:
    home = lay_out_home(tmp_path / "home", ("qwen", "claude"))
    overrides = tokenclub_home / "config" / "prices.toml"
    overrides.parent.mkdir(parents=True)
    overrides.write_text('[models."qwen3-coder-plus"]\ninput_mtok = 1.0\noutput_mtok = 5.0\n')
    code, out, _ = run(capsys, tmp_path, home, "prices", "--json")
    assert code == 0
    doc = json.loads(out)
    from importlib import metadata

    assert doc["source"]["version"] == metadata.version("genai-prices")
    assert doc["source"]["models"] > 100 and doc["source"]["data_date"]
    assert doc["overrides"]["models"] == [
        {"pattern": "qwen3-coder-plus", "input_mtok": 1.0, "output_mtok": 5.0, "prices_seen": ["qwen3-coder-plus"]}
    ]
    assert doc["unpriced_models"] == []  # qwen3-coder-flash is priced from the shipped table
    by = {m["model"]: m["priced_by"] for m in doc["models"]}
    assert by["qwen3-coder-plus"] == {"source": "overrides", "pattern": "qwen3-coder-plus"}
    assert by["qwen3-coder-flash"]["source"] == "tokenclub table"
    assert by["claude-sonnet-4-5-20250929"] == {"source": "genai-prices"}
    _, out, _ = run(capsys, tmp_path, home, "prices")
    assert f"price source: genai-prices {doc['source']['version']}" in out
    assert "  qwen3-coder-flash: https://www.alibabacloud.com/" in out
