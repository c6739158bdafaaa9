"""Settings: saved atomically, read back exactly, a bad file moved aside, unknown keys kept."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from app.core import settings
from app.core.milestones import DEFAULT_MILESTONES
from app.core.settings import InvalidSettings, Settings, SettingsError
from app.sources import all_sources


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "settings.json"


def test_a_missing_file_gives_the_defaults(path: Path) -> None:
    loaded = settings.load(path)
    assert loaded.settings == Settings() and loaded.warning is None
    assert Settings().milestones == DEFAULT_MILESTONES and Settings().tz is None


def test_save_then_load_round_trips(path: Path) -> None:
    s = Settings(
        tz="Europe/Paris",
        agents={"codex": False, "amp": True},
        milestones=(5_000_000, 12_345_678, 2_000_000_000),
        notify_tiers=False,
        start_at_login=True,
        watching=False,
        theme="dark",
    )
    settings.save(s, path)
    assert settings.load(path).settings == s
    assert orjson.loads(path.read_bytes())["milestones"] == [5_000_000, 12_345_678, 2_000_000_000]
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temp file left behind


def test_the_default_path_hangs_off_tokenclub_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENCLUB_HOME", str(tmp_path / "home"))
    settings.save(Settings(theme="light"))
    assert (tmp_path / "home" / "config" / "settings.json").exists()
    assert settings.load().settings.theme == "light"


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b'{"theme": "sepia"}', b'{"milestones": "10M"}', b'{"agents": []}', b'{"tz": "X/Y"}'],
)
def test_a_bad_file_is_moved_aside_and_the_defaults_used(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    loaded = settings.load(path)
    assert loaded.settings == Settings()
    aside = path.with_name("settings.json.bad")
    assert loaded.warning is not None and str(aside) in loaded.warning
    assert aside.read_bytes() == content
    assert not path.exists()


def test_unknown_keys_and_agents_are_kept_on_save(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(
        b'{"theme": "dark", "from_the_future": {"a": 1}, "agents": {"codex": false, "newer-agent": false}}'
    )
    s = settings.load(path).settings
    assert s.extra == {"from_the_future": {"a": 1}}
    assert s.agents == {"codex": False, "newer-agent": False}
    assert s.enabled_agents() == frozenset(src.agent for src in all_sources()) - {"codex"}
    s.notify_tiers = False
    settings.save(s, path)
    data = orjson.loads(path.read_bytes())
    assert data["from_the_future"] == {"a": 1}
    assert data["agents"] == {"codex": False, "newer-agent": False}
    assert data["notify_tiers"] is False


def test_enabled_agents_is_none_when_every_agent_is_on() -> None:
    assert Settings().enabled_agents() is None
    assert Settings(agents={"codex": True}).enabled_agents() is None
    assert Settings(agents={"newer-agent": False}).enabled_agents() is None


@pytest.mark.parametrize(
    ("key", "value", "attr", "expected"),
    [
        ("tz", "UTC", "tz", "UTC"),
        ("tz", "local", "tz", None),
        ("tz", "", "tz", None),
        ("milestones", "1M, 2.5M 1B", "milestones", (1_000_000, 2_500_000, 1_000_000_000)),
        ("milestones", ["10k", 20_000], "milestones", (10_000, 20_000)),
        ("notify_tiers", "off", "notify_tiers", False),
        ("start_at_login", True, "start_at_login", True),
        ("theme", "light", "theme", "light"),
    ],
)
def test_apply_sets_a_valid_value(key: str, value: object, attr: str, expected: object) -> None:
    s = Settings(tz="Asia/Tokyo")
    settings.apply(s, key, value)
    assert getattr(s, attr) == expected


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("tz", "Mars/Olympus", "unknown time zone"),
        ("agents.nobody", True, "unknown agent"),
        ("agents.codex", "maybe", "true or false"),
        ("milestones", "10M, 10M", "strictly increasing"),
        ("milestones", "", "give 1 to"),
        ("theme", "sepia", "theme must be one of"),
        ("colour", "red", "unknown setting"),
    ],
)
def test_apply_refuses_a_bad_value(key: str, value: object, why: str) -> None:
    s = Settings()
    with pytest.raises(SettingsError, match=why):
        settings.apply(s, key, value)


def test_updated_reports_every_bad_change_and_leaves_the_base_alone() -> None:
    base = Settings(agents={"codex": False})
    with pytest.raises(InvalidSettings) as caught:
        settings.updated(base, {"tz": "Nowhere/Land", "milestones": "1B, 1M", "theme": "dark", "agents.codex": True})
    assert set(caught.value.errors) == {"tz", "milestones"}
    assert "unknown time zone" in caught.value.errors["tz"]
    assert base == Settings(agents={"codex": False})


def test_updated_returns_a_copy_with_the_changes() -> None:
    base = Settings(agents={"codex": False}, extra={"k": [1]})
    new = settings.updated(base, {"tz": "UTC", "agents.amp": False, "theme": "dark"})
    assert new == Settings(tz="UTC", agents={"codex": False, "amp": False}, theme="dark", extra={"k": [1]})
    new.extra["k"].append(2)
    assert base.agents == {"codex": False} and base.extra == {"k": [1]}


@pytest.mark.parametrize(
    ("item", "tokens"),
    [("10M", 10_000_000), ("0.1B", 100_000_000), ("250000", 250_000), (" 1.5 k ", 1_500), (7, 7), ("2b", 2 * 10**9)],
)
def test_parse_tokens(item: object, tokens: int) -> None:
    assert settings.parse_tokens(item) == tokens


@pytest.mark.parametrize("item", [True, "-5M", "1e6", "10 MB", "0", 0, "M"])
def test_parse_tokens_refuses(item: object) -> None:
    with pytest.raises(SettingsError):
        settings.parse_tokens(item)


@pytest.mark.parametrize(
    "values",
    [DEFAULT_MILESTONES, (1_500_000, 12_345_678, 2_000_000_000), (999, 1_000, 1_234_567_891), (250_000,)],
)
def test_described_milestones_read_back_exactly(values: tuple[int, ...]) -> None:
    s = Settings()
    settings.apply(s, "milestones", settings.describe_milestones(values))
    assert s.milestones == values


def test_describe_milestones_uses_short_labels() -> None:
    assert settings.describe_milestones(DEFAULT_MILESTONES) == "10M, 100M, 1B"
    assert settings.describe_milestones((12_345_678,)) == "12345678"


def test_an_unreadable_file_gives_defaults_and_stays(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.mkdir()  # a folder where the file should be: reading it fails with an OSError
    loaded = settings.load(path)
    assert loaded.settings == settings.Settings()
    assert loaded.warning is not None and "cannot be read" in loaded.warning
    assert path.is_dir()
