"""club merge: verification, key pinning, latest export per day, the plausibility rules, bad files."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from app.club import board, merge, rules
from app.club.schema import MAX_FILE_BYTES
from tests.club.helpers import day, doc, save, signed

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
AS_OF = date(2026, 11, 30)


def run(tmp_path: Path, files: list[Path], club: str = "club") -> tuple[merge.Result, dict[str, Any]]:
    """Merge, write the board and the pins, as the command does."""
    folder = tmp_path / club
    result = merge.merge(files, folder, now=NOW)
    doc_ = board.compute(result, AS_OF, now=NOW)
    board.write(doc_, result, folder)
    merge.save_pins(folder, result.pins)
    return result, doc_


def rules_hit(result: merge.Result) -> set[str]:
    return {r["rule"] for r in result.rejections}


def bob(tmp_path: Path) -> Path:
    return save(tmp_path / "bob.json", signed(doc("bob", [day("2026-11-29", 20_000_000, out=1_000_000)])))


def test_edited_by_one_digit_is_rejected_and_the_rest_merge(tmp_path: Path) -> None:
    good = signed(doc("alice", [day("2026-11-29", 12_345_678, cr=1_000, out=5)]))
    path = save(tmp_path / "alice.json", good)
    text = path.read_text()
    assert '"in": [12345678]' in text
    path.write_text(text.replace('"in": [12345678]', '"in": [12345679]', 1))
    result, _ = run(tmp_path, [path, bob(tmp_path)])
    assert [(r["file"], r["rule"], r["action"]) for r in result.rejections] == [
        ("alice.json", "bad_signature", "file rejected")
    ]
    assert "changed after it was signed" in result.rejections[0]["reason"]
    assert set(result.members) == {"bob"}


def test_whitespace_and_key_order_do_not_matter(tmp_path: Path) -> None:
    """The signature covers the canonical form: a re-indented file still verifies."""
    d = signed(doc("alice", [day("2026-11-29", 1_000)]))
    path = tmp_path / "alice.json"
    path.write_text(json.dumps(dict(reversed(list(d.items()))), indent=7))
    result, _ = run(tmp_path, [path])
    assert result.rejections == [] and set(result.members) == {"alice"}


def test_a_reexport_replaces_the_older_days(tmp_path: Path) -> None:
    old = signed(doc("alice", [day("2026-11-20", 1_000), day("2026-11-25", 2_000), day("2026-11-26", 3_000)],
                     created="2026-11-26T10:00:00Z"))
    # the later export covers 25..29: the 25th changed, the 26th had nothing after all (e.g. an agent turned off)
    new = signed(doc("alice", [day("2026-11-25", 2_500), day("2026-11-29", 4_000)], since="2026-11-25",
                     until="2026-11-29", created="2026-11-29T10:00:00Z"))
    # given newest first: the order on the command line does not matter, ``created`` does
    result, b = run(tmp_path, [save(tmp_path / "new.json", new), save(tmp_path / "old.json", old)])
    assert result.rejections == []
    days = {d: r[merge.TOTAL] for d, r in result.members["alice"].days.items()}
    assert days == {"2026-11-20": 1_000, "2026-11-25": 2_500, "2026-11-29": 4_000}
    (row,) = b["periods"]["all"]
    assert row["total"] == 7_500 and row["days"] == 3


def test_key_pinned_on_first_sight_and_another_key_is_rejected(tmp_path: Path) -> None:
    first = save(tmp_path / "alice.json", signed(doc("alice", [day("2026-11-29", 1_000)])))
    run(tmp_path, [first])
    pins = json.loads((tmp_path / "club" / "members.json").read_text())
    assert list(pins["members"]) == ["alice"]
    assert pins["members"]["alice"]["fingerprint"].startswith("SHA256:")
    # a later merge: someone else calls themselves Alice (case does not make a new member)
    impostor = save(tmp_path / "impostor.json", signed(doc("Alice", [day("2026-11-29", 9_000_000_000)]), "mallory"))
    result, b = run(tmp_path, [first, impostor])
    assert [(r["file"], r["rule"]) for r in result.rejections] == [("impostor.json", "key_mismatch")]
    assert "pinned" in result.rejections[0]["reason"]
    assert [r["total"] for r in b["periods"]["all"]] == [1_000]


def test_duplicate_member_in_one_merge_keeps_the_first_key(tmp_path: Path) -> None:
    a = save(tmp_path / "a.json", signed(doc("carol", [day("2026-11-29", 1_000)])))
    b_ = save(tmp_path / "b.json", signed(doc("carol", [day("2026-11-28", 5_000)]), "carol-other-key"))
    result, _ = run(tmp_path, [a, b_])
    assert [(r["file"], r["rule"]) for r in result.rejections] == [("b.json", "key_mismatch")]
    assert list(result.members["carol"].days) == ["2026-11-29"]


def _planted(rule: str) -> tuple[dict[str, Any], str]:
    """An export of ``dave`` that breaks ``rule`` on 2026-11-28 (and is fine on the 27th), and the action expected."""
    ok = day("2026-11-27", 1_000_000, cr=500_000, out=10_000, calls=50)
    bad = day("2026-11-28", 1_000_000, cr=500_000, out=10_000, calls=50)
    days = [ok, bad]
    if rule == "total_is_sum":
        bad["total"] += 1
    elif rule == "parts_sum":
        bad["by_model"]["claude-sonnet-4-5"]["out"] -= 1
        bad["by_model"]["claude-sonnet-4-5"]["total"] -= 1
    elif rule == "tier_matches_total":
        bad["tier"] = "1B"
    elif rule == "future_day":
        days.append(day("2026-12-03", 1_000))  # 2026-12-01 12:00 UTC is 2026-12-02 02:00 at UTC+14: the 3rd is future
    elif rule == "cache_read_per_call":
        bad = day("2026-11-28", 1_000, cr=3_000_000, out=10, calls=2)  # 1.5M cached tokens a call; Sonnet holds 1M
        days = [ok, bad]
    elif rule == "calls_per_day":
        bad = day("2026-11-28", 50_000_000, out=10_000, calls=150_000)
        days = [ok, bad]
    return signed(doc("dave", days, until="2026-12-03")), (
        "file rejected" if rule in rules.FILE_RULES else "day dropped"
    )


@pytest.mark.parametrize("rule", [*rules.FILE_RULES, *rules.DAY_RULES])
def test_each_plausibility_rule_rejects_its_planted_case(tmp_path: Path, rule: str) -> None:
    planted, action = _planted(rule)
    result, b = run(tmp_path, [save(tmp_path / "dave.json", planted), bob(tmp_path)])
    hits = [r for r in result.rejections if r["member"] == "dave"]
    assert [(r["rule"], r["action"]) for r in hits] == [(rule, action)]
    assert hits[0]["day"] in ("2026-11-28", "2026-12-03")
    assert "bob" in result.members  # the others still merge
    if action == "file rejected":
        assert "dave" not in result.members
    else:  # the day is dropped, the member flagged, the good day kept
        dave = result.members["dave"]
        assert hits[0]["day"] not in dave.days and "2026-11-27" in dave.days
        assert rule in next(m for m in b["members"] if m["member"] == "dave")["flags"]


def test_cache_reads_without_model_names_use_the_largest_context(tmp_path: Path) -> None:
    d = doc("erin", [day("2026-11-28", 1_000, cr=3_000_000, calls=1)])
    d["includes"]["models"] = False
    del d["by_model"]
    result, _ = run(tmp_path, [save(tmp_path / "erin.json", signed(d))])
    assert rules_hit(result) == {"cache_read_per_call"}


def test_calls_limit_scales_with_devices(tmp_path: Path) -> None:
    d = doc("fay", [day("2026-11-28", 50_000_000, calls=150_000)])
    d["days"]["devices"][0] = 2
    result, _ = run(tmp_path, [save(tmp_path / "fay.json", signed(d))])
    assert result.rejections == []


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    good = signed(doc("gina", [day("2026-11-29", 1_000)]))
    files = {}
    data = json.dumps(good, indent=2)
    files["truncated"] = tmp_path / "truncated.json"
    files["truncated"].write_text(data[: len(data) // 2])
    files["not_json"] = tmp_path / "notes.txt"
    files["not_json"].write_text("my tokens: lots\n")
    other = dict(good)
    other["key"] = signed(doc("gina", [day("2026-11-29", 1_000)]), "gina-2")["key"]  # the signature stays gina's
    files["signed_by_another_key"] = save(tmp_path / "other.json", other)
    newer = signed({**doc("hal", [day("2026-11-29", 1_000)]), "version": 2})
    files["newer_version"] = save(tmp_path / "newer.json", newer)
    unsigned = {k: v for k, v in doc("ivy", [day("2026-11-29", 1_000)]).items()}
    files["unsigned"] = save(tmp_path / "unsigned.json", unsigned)
    dup = doc("jo", [day("2026-11-29", 1_000), day("2026-11-29", 1_000)])
    files["duplicate_day"] = save(tmp_path / "dup.json", signed(dup))
    files["enormous"] = tmp_path / "enormous.json"
    with open(files["enormous"], "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 10)
    files["float_tokens"] = save(tmp_path / "float.json", signed(doc("kim", [{**day("2026-11-29", 1_000), "in": 1e3}])))
    return files


EXPECTED_RULES = {
    "truncated": "not_json",
    "not_json": "not_json",
    "signed_by_another_key": "bad_signature",
    "newer_version": "newer_version",
    "unsigned": "unsigned",
    "duplicate_day": "malformed",
    "enormous": "too_large",
    "float_tokens": "malformed",
}


def test_bad_files_are_rejected_with_reasons_and_the_rest_merge(tmp_path: Path) -> None:
    files = _bad_files(tmp_path)
    result, b = run(tmp_path, [*files.values(), bob(tmp_path)])
    by_file = {r["file"]: r for r in result.rejections}
    for what, path in files.items():
        assert by_file[path.name]["rule"] == EXPECTED_RULES[what], what
        assert by_file[path.name]["reason"]
    assert "truncated" in by_file["truncated.json"]["reason"]
    assert "update TokenClub" in by_file["newer.json"]["reason"]
    assert list(result.members) == ["bob"]
    assert b["files"] == {"merged": 1, "rejected": len(files)}


def test_previous_board_left_intact_when_the_new_one_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = save(tmp_path / "alice.json", signed(doc("alice", [day("2026-11-29", 1_000)])))
    run(tmp_path, [first])
    folder = tmp_path / "club"
    before = {p.name: p.read_bytes() for p in (folder / "board").iterdir()}
    pins = (folder / "members.json").read_bytes()

    from app.club import html

    def broken(*_: Any, **__: Any) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(html, "page", broken)
    with pytest.raises(OSError):
        run(tmp_path, [first, bob(tmp_path)])
    assert {p.name: p.read_bytes() for p in (folder / "board").iterdir()} == before
    assert (folder / "members.json").read_bytes() == pins  # bob is not pinned by a merge that wrote no board
    assert [p.name for p in (folder / ".boards").iterdir()] == [(folder / "board").resolve().name]


def test_a_new_board_replaces_the_old_one_whole(tmp_path: Path) -> None:
    run(tmp_path, [save(tmp_path / "alice.json", signed(doc("alice", [day("2026-11-29", 1_000)])))])
    old = (tmp_path / "club" / "board").resolve()
    run(tmp_path, [tmp_path / "alice.json", bob(tmp_path)])
    new = (tmp_path / "club" / "board").resolve()
    assert new != old and not old.exists()
    assert len(json.loads((new / "leaderboard.json").read_text())["members"]) == 2


def test_unreadable_members_file_stops_the_merge(tmp_path: Path) -> None:
    folder = tmp_path / "club"
    folder.mkdir()
    (folder / "members.json").write_text("{oops")
    with pytest.raises(ValueError, match="pins the members' keys"):
        merge.merge([bob(tmp_path)], folder, now=NOW)


def test_imported_files_with_the_same_name_are_both_kept(tmp_path: Path) -> None:
    """The desktop app copies imports into the club folder: two members' ``export.json`` never overwrite."""
    from app.club import service

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    liz = save(tmp_path / "a" / "export.json", signed(doc("liz", [day("2026-11-29", 1_000)])))
    max_ = save(tmp_path / "b" / "export.json", signed(doc("max", [day("2026-11-29", 2_000)])))
    pins = save(tmp_path / "c" / "members.json", signed(doc("ned", [day("2026-11-29", 3_000)])))
    folder = tmp_path / "club"
    service.merge_into([liz, max_, pins], folder, as_of=AS_OF)
    done = service.merge_into([liz], folder, as_of=AS_OF)  # imported again: no third copy
    assert sorted(p.name for p in folder.glob("*.json")) == ["export-2.json", "export.json", "members-2.json",
                                                             "members.json"]
    assert sorted(m["member"] for m in done["doc"]["members"]) == ["liz", "max", "ned"]
