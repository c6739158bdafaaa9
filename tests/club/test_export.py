"""club export: the round trip through merge, what the file holds (numbers only), and its signing key."""

from __future__ import annotations

import json
import socket
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from app.cli.main import main
from app.club import schema
from tests.club.memkeyring import MemoryKeyring
from tests.conftest import lay_out_home


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return lay_out_home(tmp_path / "home")


def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--db", str(tmp_path / "i.sqlite"), "--home", str(home)])
    out, err = capsys.readouterr()
    return code, out, err


def export(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, member: str, *extra: str) -> Path:
    out = tmp_path / f"{member}.json"
    code, _, err = cli(capsys, tmp_path, home, "club", "export", "--member", member, "--tz", "UTC", "--out", str(out),
                       *extra)
    assert code == 0, err
    return out


def test_export_merge_round_trip(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, memory_keyring: MemoryKeyring
) -> None:
    alice = export(capsys, tmp_path, home, "alice")
    code, out, _ = cli(capsys, tmp_path, home, "report", "daily", "--json", "--tz", "UTC")
    daily = json.loads(out)
    daily["days"] = [d for d in daily["days"] if d["calls"]]  # not today listed with no calls yet
    doc = json.loads(alice.read_text())
    cols = doc["days"]
    assert cols["date"] == [d["date"] for d in daily["days"]]
    for field in ("in", "cw", "cr", "out", "rsn", "total", "calls"):
        assert cols[field] == [d[field] for d in daily["days"]], field
    assert cols["cost_musd"] == [round(d["cost_usd"] * 1e6) for d in daily["days"]]
    assert set(doc["by_agent"]) == {a for d in daily["days"] for a in d["by_agent"]}
    assert set(doc["by_model"]) == {m for d in daily["days"] for m in d["by_model"]}
    for i, d in enumerate(daily["days"]):
        for agent, part in doc["by_agent"].items():
            assert part["total"][i] == d["by_agent"].get(agent, {"total": 0})["total"]
    bob = export(capsys, tmp_path, home, "bob", "--no-models", "--no-cost")
    club = tmp_path / "club"
    last = cols["date"][-1]
    code, out, err = cli(capsys, tmp_path, home, "club", "merge", str(alice), str(bob), "--out", str(club),
                         "--as-of", last, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["members"] == 2 and summary["files_rejected"] == 0 and summary["days_dropped"] == 0
    board = json.loads((club / "board" / "leaderboard.json").read_text())
    rows = {r["member"]: r for r in board["periods"]["all"]}
    assert rows["alice"]["total"] == daily["totals"]["total"] == rows["bob"]["total"]
    assert rows["alice"]["cost_usd"] == pytest.approx(daily["totals"]["cost_usd"], abs=0.01)
    assert rows["bob"]["cost_usd"] is None
    for name in ("leaderboard.csv", "leaderboard.sqlite", "index.html", "kiosk.html"):
        assert (club / "board" / name).stat().st_size > 0


def test_export_is_numbers_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, memory_keyring: MemoryKeyring
) -> None:
    data = export(capsys, tmp_path, home, "alice").read_bytes()
    conn = sqlite3.connect(tmp_path / "i.sqlite")
    try:
        paths = [r[0] for r in conn.execute("SELECT path FROM files")]
        projects = {r[0] for r in conn.execute("SELECT DISTINCT project FROM events") if r[0]}
        sessions = {r[0] for r in conn.execute("SELECT DISTINCT session FROM events") if r[0]}
    finally:
        conn.close()
    assert paths and projects and sessions
    secrets = [*paths, *projects, *sessions, str(home), str(tmp_path), socket.gethostname(), "myproj", "webapp",
               "7f3c2a10", "-home-dev"]
    leaked = [s for s in secrets if len(s) >= 4 and s.encode() in data]
    assert leaked == []
    doc = json.loads(data)
    assert set(doc) == {"schema", "version", "tokenclub", "member", "created", "since", "until", "milestones",
                        "includes", "days", "by_agent", "by_model", "key", "signature"}
    assert set(doc["days"]) == {"date", "tier", "devices", "in", "cw", "cr", "out", "rsn", "total", "calls",
                                "cost_musd"}
    assert set(doc["by_agent"]) <= {"claude-code", "codex", "gemini-cli", "opencode", "qwen-code", "amp"}
    # the private key is in the keyring only
    (stored,) = memory_keyring.secrets.values()
    assert stored.encode() not in data


def test_no_models_and_no_cost(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, memory_keyring: MemoryKeyring
) -> None:
    doc = json.loads(export(capsys, tmp_path, home, "alice", "--no-models", "--no-cost").read_text())
    assert doc["includes"] == {"cost": False, "models": False}
    text = json.dumps(doc)
    assert "by_model" not in text and "cost_musd" not in text and "claude-sonnet" not in text
    schema.parse(json.dumps(doc).encode())  # still a valid, verifying file


def test_key_created_once_then_reused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, memory_keyring: MemoryKeyring
) -> None:
    first = json.loads(export(capsys, tmp_path, home, "alice").read_text())["key"]
    second = json.loads(export(capsys, tmp_path, home, "alice").read_text())["key"]
    assert first == second
    assert list(memory_keyring.secrets) == [("tokenclub", "club/alice")]


def test_export_to_stdout_and_bad_member_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, memory_keyring: MemoryKeyring
) -> None:
    code, out, _ = cli(capsys, tmp_path, home, "club", "export", "--member", "alice", "--tz", "UTC")
    assert code == 0 and json.loads(out)["member"] == "alice"
    code, _, err = cli(capsys, tmp_path, home, "club", "export", "--member", "../etc/passwd")
    assert code == 2 and "member name" in err
    assert list(memory_keyring.secrets) == [("tokenclub", "club/alice")]


def test_insecure_keyring_is_refused_and_nothing_is_stored(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring
    from keyring.backends import fail

    previous: Any = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        out = tmp_path / "alice.json"
        code, stdout, err = cli(capsys, tmp_path, home, "club", "export", "--member", "alice", "--out", str(out))
    finally:
        keyring.set_keyring(previous)
    assert code == 1
    assert "cannot sign the export" in err and "Secret Service" in err and "GNOME Keyring" in err
    assert not out.exists() and stdout == ""


def test_plain_text_keyring_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path
) -> None:
    """A backend that writes the secret to a file (as keyrings.alt does) is no safer than the export itself."""
    import keyring

    stored: list[str] = []

    class PlaintextKeyring(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            stored.append(password)

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    previous: Any = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    try:
        code, _, err = cli(capsys, tmp_path, home, "club", "export", "--member", "alice")
    finally:
        keyring.set_keyring(previous)
    assert code == 1 and "not a secure store" in err and stored == []


def test_exported_file_edited_by_one_digit_fails_verify_and_merge(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path, memory_keyring: MemoryKeyring
) -> None:
    alice = export(capsys, tmp_path, home, "alice")
    bob = export(capsys, tmp_path, home, "bob")
    code, out, _ = cli(capsys, tmp_path, home, "club", "verify", str(alice), str(bob))
    assert code == 0 and out.count(": ok: ") == 2
    lines = alice.read_text().splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if line.strip().startswith('"total": ['))
    head, tail = lines[i].split("[", 1)
    digit = next(c for c in tail if c.isdigit() and c != "9")
    lines[i] = head + "[" + tail.replace(digit, str(int(digit) + 1), 1)  # one digit, one day, +1 in some place
    alice.write_text("".join(lines))
    code, out, _ = cli(capsys, tmp_path, home, "club", "verify", str(alice), str(bob))
    assert code == 1 and "alice.json: rejected: bad_signature" in out and "bob.json: ok" in out
    code, _, err = cli(capsys, tmp_path, home, "club", "merge", str(alice), str(bob), "--out", str(tmp_path / "c"))
    assert code == 0 and "alice.json: file rejected: bad_signature" in err
    board = json.loads((tmp_path / "c" / "board" / "leaderboard.json").read_text())
    assert [m["member"] for m in board["members"]] == ["bob"]


def test_router_model_ids_stay_and_odd_names_go_to_other() -> None:
    """``anthropic/claude-sonnet-4`` (OpenRouter through OpenCode, Cline…) exports and merges; a name the
    format refuses (a path, a control character) is counted under ``other``, so the file still adds up."""
    from app.club import export
    from app.club.signing import MemberKey

    def part(inp: int, cost: float | None, calls: int = 1) -> dict[str, Any]:
        return {"in": inp, "cw": 0, "cr": 0, "out": 0, "rsn": 0, "total": inp, "calls": calls, "cost_usd": cost}

    models = {"anthropic/claude-sonnet-4": part(100, 0.5), "/home/dev/model.gguf": part(20, None),
              "bad\x07name": part(3, 0.25), "other": part(4, None)}
    day = part(127, 0.75, calls=4)
    daily = {"days": [{"date": "2026-11-29", **day, "by_agent": {"opencode": day}, "by_model": models,
                       "by_device": {None: day}}]}
    doc = export.sign(export.from_daily(daily, "alice", since=None, until=date(2026, 11, 29)), MemberKey.generate())
    assert set(doc["by_model"]) == {"anthropic/claude-sonnet-4", "other"}
    assert doc["by_model"]["other"]["in"] == [27] and doc["by_model"]["other"]["cost_musd"] == [250_000]
    data = export.dumps(doc)
    assert b"/home/dev" not in data
    schema.parse(data)  # verifies, and the arithmetic rules hold


def test_more_models_than_the_format_holds_fold_into_other() -> None:
    from app.club import export
    from app.club.schema import MAX_NAMES
    from app.club.signing import MemberKey

    def part(inp: int) -> dict[str, Any]:
        return {"in": inp, "cw": 0, "cr": 0, "out": 0, "rsn": 0, "total": inp, "calls": 1, "cost_usd": None}

    days = []
    for n in range(5):  # 5 days × 50 local models: 250 names over the file
        models = {f"local-model-{n}-{i}": part(1_000 + i) for i in range(50)}
        total = sum(m["in"] for m in models.values())
        day = {**part(total), "calls": 50}
        days.append({"date": f"2026-11-2{n}", **day, "by_agent": {"goose": day}, "by_model": models})
    doc = export.from_daily({"days": days}, "alice", since=None, until=date(2026, 11, 29))
    assert len(doc["by_model"]) == MAX_NAMES and "other" in doc["by_model"]
    assert doc["by_model"]["other"]["cost_musd"] == [None] * 5
    schema.parse(export.dumps(export.sign(doc, MemberKey.generate())))
