"""The README's examples run: every ``tokenclub`` line of its ``sh`` blocks exits 0 against the fixtures, and
every key its JSON examples show is in the real output. A line that needs a display, a network, ssh, a
keyring or files of the user's is listed below with the reason; a stale entry fails too."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from app.cli.main import main
from app.cli.render import cell
from app.sources import all_sources
from tests.conftest import lay_out_home

README = Path(__file__).parents[1] / "README.md"

# each by the start of its line (the options after it may grow)
SKIP = {
    "tokenclub demo": "opens the desktop app (needs a display); tests/test_demo.py runs it without one",
    "tokenclub keys add anthropic --label org": "stores a key in the OS keyring, read from a hidden prompt",
    "tokenclub keys add openrouter --label mgmt --kind admin --low-balance 5": "stores a key in the OS keyring",
    "tokenclub keys test [PROVIDER] [--label L]": "calls each provider over the network",
    "tokenclub keys set PROVIDER": "changes a stored key: needs one in the keyring",
    "tokenclub keys remove PROVIDER [--label L]": "removes a key from the OS keyring",
    "tokenclub provider sync [PROVIDER] [--days N]": "fetches from each provider over the network",
    "tokenclub club export --member alice --out alice.json": "signs with a key kept in the OS keyring",
    "tokenclub club verify alice.json bob.json": "needs members' exported files",
    "tokenclub club merge club/*.json --out club": "needs members' exported files",
    "tokenclub club card --out today.png": "draws the card with Qt (tests/club/test_card.py)",
    "tokenclub host add|list|check|rekey|remove": "an overview line; host list runs below",
    "tokenclub host add agent-box": "needs an ssh host",
    "tokenclub host set agent-box --[no-]claude-sandbox": "needs the host agent-box added",
    "tokenclub host check agent-box [--json]": "needs an ssh host",
    "tokenclub host rekey agent-box --accept-host-key SHA256:…": "needs an ssh host",
    "tokenclub host remove agent-box [--forget-usage]": "needs the host agent-box added",
    "tokenclub report daily --device agent-box": "needs the host agent-box added (an unknown device is refused)",
    "tokenclub session launch": "starts an agent on an ssh host",
    "tokenclub session tail ID [--follow] [--raw]": "needs a run on a host",
    "tokenclub session kill ID|--all [--host NAME] [--json]": "needs a run on a host",
}

# lines with placeholders or alternatives, as concrete commands
CONCRETE = {
    "tokenclub report reconcile [--since --until] [--json|--csv] [--threshold PCT]": [
        "report reconcile --json --since 2026-11-01 --until 2026-11-30 --threshold 5",
        "report reconcile --csv",
    ],
    "tokenclub limits [--json] [--tz ZONE] [--account | --no-account]": ["limits --json --tz UTC --no-account"],
    "tokenclub report blocks [--json | --csv] [--since D] [--until D]": [
        "report blocks --json --since 2026-11-01 --until 2026-11-30",
        "report blocks --csv",
    ],
    "tokenclub refresh [--host NAME] [--local-only]": ["refresh --local-only"],
    "tokenclub session list [--host NAME] [--json]": ["session list --json"],
}

PLACEHOLDER = re.compile(r"^(?!UTC$)[A-Z][A-Z_]*$|…")  # NAME, ID, PCT, ...; UTC is a value


def blocks() -> list[tuple[str, str, list[str]]]:
    """Every fenced block: its language, the paragraph just before it, and its lines."""
    out = []
    lines = README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("```") and len(lines[i]) > 3:
            lang = lines[i][3:].strip()
            k = i - 1
            while k > 0 and not lines[k].strip():
                k -= 1
            start = k
            while start > 0 and lines[start - 1].strip():
                start -= 1
            before = " ".join(lines[start : k + 1])
            j = i + 1
            while not lines[j].startswith("```"):
                j += 1
            out.append((lang, before, lines[i + 1 : j]))
            i = j
        i += 1
    return out


def commands() -> list[str]:
    """The ``tokenclub`` lines of the sh blocks, continuations joined, comments and spacing dropped."""
    found = []
    for lang, _, body in blocks():
        if lang != "sh":
            continue
        joined: list[str] = []
        for line in body:
            text = re.split(r"\s+#\s", line, maxsplit=1)[0].rstrip()
            if joined and joined[-1].endswith("\\"):
                joined[-1] = joined[-1][:-1].rstrip() + " " + text.strip()
            else:
                joined.append(text)
        found.extend(" ".join(c.split()) for c in joined if c.startswith("tokenclub"))
    return found


def concrete(line: str) -> list[str]:
    """``line`` as the commands to run: listed ones as listed, else alternatives expanded and [options] kept."""
    if line in CONCRETE:
        return CONCRETE[line]
    words = shlex.split(line)[1:]
    assert not any(PLACEHOLDER.search(w) for w in words), f"{line!r}: add it to CONCRETE or SKIP"
    assert not re.search(r"\[[^]]*\|", line), f"{line!r}: an optional choice; add it to CONCRETE"
    runs: list[list[str]] = [[]]
    for word in words:
        word = word.strip("[]")
        choices = word.split("|") if "|" in word and not word.startswith("-") else [word]
        runs = [[*r, c] for r in runs for c in choices]
    return [shlex.join(r) for r in runs]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return lay_out_home(tmp_path / "home")


def run(capsys: pytest.CaptureFixture[str], args: list[str], home: Path) -> tuple[int, str, str]:
    extra = [] if args[0] == "demo" else ["--home", str(home)]
    try:
        code = main([*args, *extra])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def skipped(line: str) -> bool:
    return line in SKIP or any(line.startswith(k + " ") for k in SKIP if k != "tokenclub demo")


def test_the_lists_name_only_lines_the_readme_has() -> None:
    lines = commands()
    assert len(lines) > 30
    assert not set(CONCRETE) - set(lines)
    for key in SKIP:
        assert any(line == key or line.startswith(key + " ") for line in lines), f"{key!r} is in no README line"


def test_every_command_example_exits_0(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    ran = []
    for line in commands():
        if skipped(line):
            continue
        for cmd in concrete(line):
            code, out, err = run(capsys, shlex.split(cmd), home)
            assert code == 0, f"tokenclub {cmd} -> {code}\n{out}\n{err}"
            ran.append(cmd)
    assert "report weekly --since 2026-11-01 --until 20261130 --agent codex" in ran
    assert "demo --report" in ran and len(ran) >= 20


def paths_of(value: Any, prefix: str = "") -> set[str]:
    """Every key path in a JSON value; a list's items as ``[]``, the entries of a by_* map as ``*``."""
    found: set[str] = set()
    if isinstance(value, dict):
        mapping = prefix.rsplit(".", 1)[-1].startswith("by_") or prefix.endswith("milestones")
        for key, child in value.items():
            if key == "...":
                continue
            step = f"{prefix}.{'*' if mapping else key}"
            found.add(step)
            found |= paths_of(child, step)
    elif isinstance(value, list):
        for child in value:
            found |= paths_of(child, prefix + "[]")
    return found


def key_sets(value: Any, prefix: str = "") -> dict[str, set[str] | None]:
    """Each object's keys by path (a list's items merged, a by_* map's entries as ``*``); None where "..." cuts it."""
    found: dict[str, set[str] | None] = {}
    if isinstance(value, dict):
        mapping = prefix.rsplit(".", 1)[-1].startswith("by_") or prefix.endswith("milestones")
        if not mapping:
            here = found.get(prefix, set())
            found[prefix] = None if "..." in value or here is None else here | set(value)
        for key, child in value.items():
            for path, keys in key_sets(child, f"{prefix}.{'*' if mapping else key}").items():
                old = found.get(path, set())
                found[path] = None if keys is None or old is None else old | keys
    elif isinstance(value, list):
        for child in value:
            for path, keys in key_sets(child, prefix + "[]").items():
                old = found.get(path, set())
                found[path] = None if keys is None or old is None else old | keys
    return found


def json_examples() -> list[tuple[str, Any]]:
    """The JSON blocks introduced by "`COMMAND --json` prints", with that command."""
    out = []
    for lang, before, body in blocks():
        said = re.search(r"`([a-z][^`]* --json)` prints", before)
        if lang == "json" and said:
            out.append((said.group(1), json.loads("\n".join(body))))
    return out


def test_every_key_of_a_json_example_is_in_the_real_output(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    examples = json_examples()
    assert {cmd for cmd, _ in examples} >= {"report daily --json", "report insights --json"}
    for cmd, shown in examples:
        code, out, err = run(capsys, [*shlex.split(cmd), "--tz", "UTC"], home)
        assert code == 0, err
        real = json.loads(out)
        missing = paths_of(shown) - paths_of(real)
        assert not missing, f"{cmd}: the README shows {sorted(missing)}, the output has no such keys"
        # and an object shown without "..." shows every key the output's has
        real_keys = key_sets(real)
        for path, keys in key_sets(shown).items():
            if keys is not None and path in real_keys:
                lacking = (real_keys[path] or set()) - keys
                assert not lacking, f"{cmd}: the README's {path or 'top level'} lacks {sorted(lacking)}"


def test_the_log_table_lists_every_source() -> None:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("## Where logs are read from") :]
    table = table[: table.index("\n## ")]
    rows = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    named = {n.strip() for row in rows for n in row.split(",")}
    assert {s.title for s in all_sources()} <= named


def test_an_insights_extra_cost_keeps_its_tenth_of_a_cent() -> None:
    assert cell(0.002497, "extra_cost_usd", {}) == "$0.002"
    assert cell(0.0004, "extra_cost_usd", {}) == "<$0.001"
    assert cell(0.64515, "extra_cost_usd", {}) == "$0.65"
