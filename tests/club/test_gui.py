"""The share card (a 1200x630 PNG drawn offscreen with Qt) and the desktop app's Club page."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QImage  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from app.cli.main import main  # noqa: E402
from app.core.env import Env
from app.core.index import Index  # noqa: E402
from app.sources import SOURCES
from tests.burn_dataset import write_burn_home  # noqa: E402
from tests.club.helpers import day, doc, save, signed  # noqa: E402
from tests.club.memkeyring import MemoryKeyring  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "club"


@pytest.fixture(scope="module")
def burn(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(home, index) of 20 generated days ending today (UTC) that reach the 100M tier."""
    base = tmp_path_factory.mktemp("club-burn")
    home = base / "home"
    write_burn_home(home, days=20, end=datetime.now(UTC).date())
    index = Index(base / "index.sqlite", overrides=base / "no-prices.toml", sources=SOURCES)
    index.refresh(Env.under(home), workers=1)
    index.close()
    return home, base / "index.sqlite"


def card(capsys: pytest.CaptureFixture[str], burn: tuple[Path, Path], out: Path, *extra: str) -> QImage:
    home, db = burn
    code = main(["club", "card", "--tz", "UTC", "--member", "ann", "--out", str(out), "--db", str(db),
                 "--home", str(home), *extra])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1200, 630)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out, ARTIFACTS / out.name)  # for people to look at
    return image


def test_share_card_day_and_week(qtbot: QtBot, capsys: pytest.CaptureFixture[str], burn: tuple[Path, Path],
                                 tmp_path: Path) -> None:
    day_card = card(capsys, burn, tmp_path / "card-day.png")
    week_card = card(capsys, burn, tmp_path / "card-week.png", "--week")
    # the tier badge is drawn in the tier's colour: the last days of the burn are in the 100M club or above
    badge = day_card.pixelColor(1000, 180)
    assert badge.name() in ("#2563eb", "#d97706", "#16a34a")
    assert day_card != week_card
    # the week ending on a given day, as the help offers
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    ended = card(capsys, burn, tmp_path / "card-week-ended.png", "--day", yesterday, "--week")
    assert ended != week_card


def test_card_numbers(burn: tuple[Path, Path]) -> None:
    from app.club import card as card_numbers
    from app.core.filters import Filter
    home, db = burn
    index = Index(db, overrides=db.parent / "none.toml", sources=SOURCES)
    try:
        index.refresh(Env.under(home), workers=1)
        today = datetime.now(UTC).date()
        d = card_numbers.build(index.conn, Filter(tz=UTC), today)
        w = card_numbers.build(index.conn, Filter(tz=UTC), today, week=True)
    finally:
        index.close()
    assert d["total"] > 0 and w["total"] > d["total"] and w["start"] == (today - timedelta(days=6)).isoformat()
    assert d["streak"] >= 1 and d["tier"] is not None
    assert 1 <= len(d["top_models"]) <= 3 and abs(sum(m["share"] for m in w["top_models"]) - 1) < 0.5
    assert 0 < d["cache_hit_rate"] < 1


def test_club_page_exports_imports_and_shows_the_board(
    qtbot: QtBot, tmp_path: Path, burn: tuple[Path, Path], memory_keyring: MemoryKeyring
) -> None:
    from app.gui.club_page import Club

    _, db = burn
    club = Club(db)
    club.start()
    try:
        page = club.show_page()
        qtbot.addWidget(page)
        page.member.setText("ann")
        out = tmp_path / "ann.json"
        with qtbot.waitSignal(club.exported, timeout=20_000):
            page.request_export(str(out))
        assert json.loads(out.read_text())["member"] == "ann"
        assert "signed by SHA256:" in page.messages.text()
        other = save(tmp_path / "bob.json", signed(doc("bob", [day(datetime.now(UTC).date().isoformat(), 5_000)])))
        page.folder.setText(str(tmp_path / "club"))
        with qtbot.waitSignal(club.merged, timeout=20_000):
            page.request_import([str(out), str(other)])
        rows = page.rows()
        assert sorted(r[1] for r in rows) == ["ann", "bob"] and [r[0] for r in rows] == ["1", "2"]
        assert "2 members" in page.messages.text()
        # the generated burn packs a day's tokens into few calls: more cached tokens a call than any context holds
        assert "cache_read_per_call" in dict((r[1], r[8]) for r in rows)["ann"]
        assert (tmp_path / "club" / "board" / "index.html").exists()
        assert (tmp_path / "club" / "ann.json").exists()  # imported files are kept in the club folder
        page.period.setCurrentIndex(3)  # all time: ann's earlier days stand
        page.measure.setCurrentIndex(1)
        assert page.rows()[0][1] == "ann"
    finally:
        club.stop()
