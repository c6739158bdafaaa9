"""The HTML board in a real headless browser (Debian's chromium driven by Playwright): drawn, sorted, switched.

The screenshot lands in tests/artifacts/club/board.png for people to look at. Only a
file:// page is opened; chromium runs with a fresh profile and its background networking off.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.club import board, merge
from tests.club.helpers import day, doc, save, signed
from tests.club.test_merge import NOW

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "club"
CHROMIUM = os.environ.get("TOKENCLUB_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 60_000
AS_OF = date(2026, 11, 30)

# (name, typical fresh tokens a day, cache reads a day, days active in the last 30, out of)
MEMBERS = (
    ("ada", 9_000_000, 140_000_000, 30),
    ("Linus", 30_000_000, 60_000_000, 26),
    ("grace", 4_000_000, 25_000_000, 21),
    ("ken", 1_500_000, 9_000_000, 17),
    ("margaret", 800_000, 1_200_000, 12),
    ("dennis", 14_000_000, 1_400_000_000, 9),
    ("barbara", 600_000, 0, 5),
)


def _club(tmp_path: Path) -> Path:
    files = []
    for n, (name, fresh, cached, active) in enumerate(MEMBERS):
        days = []
        for i in range(active):
            wave = 0.55 + 0.45 * ((i * 7 + n * 3) % 10) / 10
            d = (AS_OF - timedelta(days=i)).isoformat()
            calls = max(10, int((fresh + cached) * wave / 60_000))
            days.append(day(d, int(fresh * wave * 0.8), int(fresh * wave * 0.15), int(cached * wave),
                            int(fresh * wave * 0.05), calls=calls, cost=int((fresh + cached) * wave / 1000)))
        files.append(save(tmp_path / f"{name}.json", signed(doc(name, days))))
    # one member who sent a day that has not begun anywhere yet: that day dropped, the member flagged
    eve = [day((AS_OF - timedelta(days=i)).isoformat(), 3_000_000, cr=9_000_000, out=90_000, calls=400)
           for i in range(6)]
    files.append(save(tmp_path / "eve.json", signed(doc("eve", [*eve, day("2026-12-24", 99_000_000_000)]))))
    # one member whose file was changed after signing: listed as rejected, not on the board
    forged = signed(doc("mallory", [day(AS_OF.isoformat(), 5_000_000_000, calls=100)]))
    forged["days"]["in"][0] += 1
    forged["days"]["total"][0] += 1
    files.append(save(tmp_path / "mallory.json", forged))
    result = merge.merge(files, tmp_path / "club", now=NOW)
    return board.write(board.compute(result, AS_OF, now=NOW), result, tmp_path / "club")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if os.environ.get("TOKENCLUB_SKIP_BROWSER") == "1":
        pytest.skip("TOKENCLUB_SKIP_BROWSER=1")
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (./dev.sh does), or set TOKENCLUB_CHROMIUM")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: it is in the test extra (pyproject.toml) and requirements/lock.txt")

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=TIMEOUT_MS)
        try:
            yield b
        finally:
            b.close()


def _open(browser: Any, path: Path, tmp_path: Path) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 820}, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    # nothing but the page itself: any other request fails the test
    outside: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_selector("#rows tr")
    page.outside, page.errors = outside, errors  # type: ignore[attr-defined]
    return page


def _column(page: Any, n: int) -> list[str]:
    return page.eval_on_selector_all(f"#rows tr td:nth-child({n})", "cells => cells.map(c => c.textContent)")


def test_board_in_headless_chromium(browser: Any, tmp_path: Path) -> None:
    folder = _club(tmp_path)
    page = _open(browser, folder / "index.html", tmp_path)
    try:
        # today, by total: every member present once, ranks 1..n
        members = _column(page, 2)
        assert sorted(members) == sorted([*(m[0] for m in MEMBERS), "eve"])
        assert _column(page, 1) == [str(i) for i in range(1, len(MEMBERS) + 2)]
        assert page.locator("svg.spark").count() == len(MEMBERS) + 1
        assert page.locator("#rows .badge", has_text="1B").count() == 1  # dennis's today
        flags = dict(zip(_column(page, 2), _column(page, 13), strict=True))
        assert flags["eve"] == "future_day" and flags["ada"] == ""
        assert "mallory.json" in page.inner_text("footer") and "bad_signature" in page.inner_text("footer")
        by_total = members
        page.click("button[data-measure=fresh]")
        by_fresh = _column(page, 2)
        assert by_fresh != by_total and by_fresh[0] == "Linus"  # dennis's day is mostly cache reads
        page.click("button[data-period='30d']")
        page.click("button[data-measure=total]")
        assert "30 days, ranked by total tokens" in page.inner_text("#showing")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "board.png"), full_page=True)
        # a click on a header sorts by it; a second click reverses
        page.click("th[data-key=days]")
        days = [int(x) for x in _column(page, 10)]
        assert days == sorted(days, reverse=True)
        page.click("th[data-key=days]")
        assert [int(x) for x in _column(page, 10)] == sorted(days)
        page.click("th[data-key=member]")
        assert _column(page, 2) == sorted([*(m[0] for m in MEMBERS), "eve"], key=str.casefold)
        assert page.errors == [] and page.outside == []
    finally:
        page.context.close()


def test_kiosk_page_refreshes_itself(browser: Any, tmp_path: Path) -> None:
    folder = _club(tmp_path)
    page = _open(browser, folder / "kiosk.html", tmp_path)
    try:
        refresh = page.get_attribute("meta[http-equiv=refresh]", "content")
        assert refresh == "60"
        assert page.evaluate("getComputedStyle(document.querySelector('.controls')).display") == "none"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "kiosk.png"))
        assert page.errors == []
    finally:
        page.context.close()
