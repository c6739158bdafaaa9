"""Build the .deb, install it system-wide, use it as a user would, upgrade it over itself, remove it.

    sudo .venv/bin/python packaging/linux/smoke_test.py [--no-build] [--screenshot PATH] [--json PATH]

Run from a checkout after ``./dev.sh test`` (it reuses the test helpers: the agent-log fixtures
laid out as a home, Xvfb with Debian's ``trayer`` as tray host). Needs root, or sudo, for apt-get;
the tools build.sh names (dpkg-deb, desktop-file-validate; fakeroot unless root). Steps, each
checked, each failure a non-zero exit:

1. ``packaging/linux/build.sh`` (skipped with ``--no-build``: packs what is in dist/); sizes.
2. ``apt-get install ./dist/tokenclub_<v>_amd64.deb``; the files land where the README says.
3. ``tokenclub --version`` and ``tokenclub report daily --json`` from the installed copy, against the
   fixtures, with ``TOKENCLUB_HOME`` in a temp folder: the price table is built there on first use,
   and the numbers equal what the checkout's own code prints. A key is stored in, listed from and
   removed from a private GNOME Keyring (tests/secret_service.py) by the installed copy.
4. The installed app under Xvfb with trayer: its icon docks (cold start timed to the docked icon),
   a screenshot of the screen is saved, the app is stopped.
5. A second package of the same bundle with a higher version (``build.sh --repack``) installed over
   the first: the index and settings stay, the upgraded copy reads the same index.
6. ``apt-get remove`` then ``purge``: the program is gone, the user's data is not.

The package is purged at the end whatever happened, so a failed run leaves the machine as it was.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app import __version__  # noqa: E402
from tests.conftest import lay_out_home  # noqa: E402
from tests.secret_service import running as secret_service  # noqa: E402
from tests.xdisplay import docked, stop, tools_missing, virtual_display  # noqa: E402

DOCK_TIMEOUT_S = 60
BUMP = "+smoke1"  # Debian orders 0.1.0+smoke1 after 0.1.0
SUDO = [] if os.geteuid() == 0 else ["sudo", "-n"]
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def say(text: str) -> None:
    print(f"smoke: {text}", flush=True)


def run(cmd: list[str], env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if check and done.returncode != 0:
        raise SystemExit(f"smoke: {' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def apt(*args: str) -> None:
    # a lock another process holds (an unattended upgrade) is waited for, not a failure
    run([*SUDO, "apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", *args], env=APT_ENV)


def installed_version() -> str | None:
    done = run(["dpkg-query", "-W", "-f", "${Status} ${Version}", "tokenclub"], check=False)
    if done.returncode != 0 or "install ok installed" not in done.stdout:
        return None
    return done.stdout.split()[-1]


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir())


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def user_env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENCLUB_", "PYTHON"))}
    # a home of its own that exists: with none, fontconfig cannot keep its cache and every start costs 3 s more
    (base / "user").mkdir(parents=True, exist_ok=True)
    env.update(TOKENCLUB_HOME=str(base / "tokenclub"), TZ="UTC", HOME=str(base / "user"))
    return env


def report(cmd: list[str], env: dict[str, str], home: Path, *extra: str) -> dict[str, Any]:
    done = run([*cmd, "report", "daily", "--json", "--tz", "UTC", "--home", str(home), *extra], env=env)
    doc: dict[str, Any] = orjson.loads(done.stdout)
    return doc


def drop_caches() -> bool:
    """Ask the kernel to forget the page cache (a cold start reads from disk); False where not allowed."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def start_to_dock(env: dict[str, str], home: Path, screenshot: Path | None) -> float:
    """Start the installed app on ``env``'s display; seconds until its icon docked. Screenshot, then stop it."""
    with tempfile.TemporaryFile() as log:  # not a pipe: a chatty app never blocks on a full one
        started = time.monotonic()
        proc = subprocess.Popen(["/usr/bin/tokenclub", "--home", str(home)], env=env, stdout=log, stderr=log)
        icons: list[str] = []
        try:
            deadline = started + DOCK_TIMEOUT_S
            while not icons and proc.poll() is None and time.monotonic() < deadline:
                icons = docked(env)
                if not icons:
                    time.sleep(0.02)
            seconds = time.monotonic() - started
            if not icons:
                raise SystemExit(f"smoke: the installed app docked no icon (exit {proc.poll()}):\n{_tail(log)}")
            if screenshot is not None:
                time.sleep(6)  # the first run opens the dashboard and indexes: let it draw
                grab(env, screenshot)
        finally:
            stop(proc, grace_s=10)
        if proc.returncode not in (0, -15):
            raise SystemExit(f"smoke: the app ended with {proc.returncode}: {_tail(log)}")
    return seconds


def _tail(log: Any) -> str:
    log.seek(0)
    return str(log.read()[-2000:].decode(errors="replace"))


def grab(env: dict[str, str], path: Path) -> None:
    """The whole X screen as a PNG, taken by a separate Qt client on the same display."""
    code = (
        "import sys\nfrom PySide6.QtGui import QGuiApplication\napp = QGuiApplication([])\n"
        "ok = app.primaryScreen().grabWindow(0).save(sys.argv[1])\nsys.exit(0 if ok else 1)\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    run([sys.executable, "-c", code, str(path)], env={**env, "QT_QPA_PLATFORM": "xcb"})


def home_index(data: Path) -> Path:
    """The index the app keeps for the one ``--home`` the smoke test reads (``<data>/homes/<name>-<hash>/``)."""
    found = sorted(data.glob("homes/*/index.sqlite"))
    assert len(found) == 1, f"expected one --home index under {data}, found {found}"
    return found[0]


def index_rows(db: Path) -> tuple[int, int, int]:
    """(schema version, events, files) of an index."""
    with sqlite3.connect(db) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        files = conn.execute("SELECT count(*) FROM files").fetchone()[0]
    conn.close()
    return version, events, files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="use the bundle and packages already built")
    parser.add_argument("--screenshot", type=Path, default=ROOT / "dist" / "smoke-screen.png")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if tools_missing():
        raise SystemExit(f"smoke: not installed: {', '.join(tools_missing())} (./dev.sh installs them)")
    if installed_version() is not None:
        raise SystemExit("smoke: tokenclub is installed already; remove it first (this test installs and purges it)")
    figures: dict[str, Any] = {"version": __version__}
    deb = ROOT / "dist" / f"tokenclub_{__version__}_amd64.deb"
    tar = ROOT / "dist" / f"tokenclub-{__version__}-linux-x86_64.tar.gz"
    bundle = ROOT / "build" / "packaging" / "dist" / "tokenclub"

    if not args.no_build:
        say("building (packaging/linux/build.sh)")
        started = time.monotonic()
        run(["packaging/linux/build.sh"])
        figures["build_s"] = round(time.monotonic() - started, 1)
    figures.update(bundle_bytes=du(bundle), deb_bytes=du(deb), tar_gz_bytes=du(tar))
    say(f"bundle {mb(figures['bundle_bytes'])}, .deb {mb(figures['deb_bytes'])}, .tar.gz {mb(figures['tar_gz_bytes'])}")

    base = Path(tempfile.mkdtemp(prefix="tokenclub-smoke-"))
    try:
        home = lay_out_home(base / "home")
        env = user_env(base)
        say(f"apt-get install ./dist/{deb.name}")
        apt("install", "--no-install-recommends", f"./dist/{deb.name}")
        assert installed_version() == __version__, installed_version()
        assert Path("/usr/bin/tokenclub").resolve() == Path("/opt/tokenclub/tokenclub"), "not linked into /usr/bin"
        for path in (
            "/usr/share/applications/tokenclub.desktop",
            "/usr/share/icons/hicolor/48x48/apps/tokenclub.png",
            "/usr/share/icons/hicolor/256x256/apps/tokenclub.png",
            "/usr/share/icons/hicolor/scalable/apps/tokenclub.svg",
        ):
            assert Path(path).is_file(), f"{path} not installed"
        run(["desktop-file-validate", "/usr/share/applications/tokenclub.desktop"])

        version = run(["tokenclub", "--version"], env=env).stdout.strip()
        assert version == f"tokenclub {__version__}", version
        say(f"tokenclub --version: {version}")
        started = time.monotonic()
        installed = report(["tokenclub"], env, home)
        figures["first_report_s"] = round(time.monotonic() - started, 2)
        tables = list((base / "tokenclub" / "cache").glob("price-table-*.json"))
        assert tables, "the installed app built no price table in its cache"
        checkout_env = {**user_env(base / "checkout"), "PYTHONPATH": str(ROOT)}
        reference = report([sys.executable, "-m", "app"], checkout_env, home)
        assert installed == reference, "the installed copy and the checkout disagree on the daily report"
        priced = [d for d in installed["days"] if d.get("cost_usd")]
        assert installed["days"] and priced, "no days, or no priced day, in the installed copy's report"
        say(
            f"report daily --json: {len(installed['days'])} days, {installed['totals']['total']:,} tokens, "
            f"${installed['totals']['cost_usd']:.2f}, price table built ({installed['price_source']['name']})"
        )

        # the OS keyring from the frozen app (keyring's backends, secretstorage, cryptography, jeepney bundled)
        with secret_service() as service:
            key_env = {**env, "DBUS_SESSION_BUS_ADDRESS": service.address}
            key_env.pop("PYTHON_KEYRING_BACKEND", None)
            fake = "sk-admin-smoke0000000000000000000wxyz\n"
            done = subprocess.run(
                ["tokenclub", "keys", "add", "openai", "--label", "smoke", "--kind", "admin"],
                input=fake,
                env=key_env,
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, done.stderr
            listed = run(["tokenclub", "keys", "list", "--json"], env=key_env).stdout
            assert "sk-admin-…wxyz" in listed and "smoke0000" not in listed, listed
            run(["tokenclub", "keys", "remove", "openai", "--label", "smoke"], env=key_env)
        say("keys add/list/remove: the installed copy stores a key in the Secret Service (GNOME Keyring)")

        # the desktop app, as installed, on a virtual display with a tray host
        with virtual_display() as display:
            gui_env = {**display, **env, "TOKENCLUB_HOME": str(base / "gui")}
            gui_env.pop("QT_QPA_PLATFORM", None)  # as a user starts it: Qt picks xcb from DISPLAY
            figures["caches_dropped"] = drop_caches()
            figures["cold_start_to_dock_s"] = round(start_to_dock(gui_env, home, args.screenshot), 2)
            figures["warm_start_to_dock_s"] = round(start_to_dock(gui_env, home, None), 2)
        say(
            f"icon docked: first start {figures['cold_start_to_dock_s']} s (page cache dropped: "
            f"{figures['caches_dropped']}), second {figures['warm_start_to_dock_s']} s; screenshot {args.screenshot}"
        )
        assert home_index(base / "gui" / "data").is_file(), "the app made no index"

        # upgrade over itself: same bundle, higher package version
        settings = base / "tokenclub" / "config" / "settings.json"
        settings.parent.mkdir(parents=True, exist_ok=True)
        if not settings.exists():
            settings.write_text('{"theme": "dark"}\n')
        kept = {p: p.read_bytes() for p in (settings,)}
        db = home_index(base / "tokenclub" / "data")
        before = index_rows(db)
        bumped = __version__ + BUMP
        run(["packaging/linux/build.sh", "--repack", bumped])
        say(f"upgrade: apt-get install ./dist/tokenclub_{bumped}_amd64.deb")
        apt("install", "--no-install-recommends", f"./dist/tokenclub_{bumped}_amd64.deb")
        assert installed_version() == bumped, installed_version()
        for path, data in kept.items():
            assert path.read_bytes() == data, f"{path} changed in the upgrade"
        after = report(["tokenclub"], env, home, "--no-refresh")
        assert after == installed, "the upgraded copy reads another report from the same index"
        assert index_rows(db) == before, (index_rows(db), before)
        say(f"upgraded to {bumped}: index kept (schema {before[0]}, {before[1]} events, {before[2]} files)")

        say("apt-get remove tokenclub, then purge")
        apt("remove", "tokenclub")
        assert installed_version() is None
        assert not Path("/usr/bin/tokenclub").exists() and not Path("/opt/tokenclub").exists()
        assert db.is_file() and settings.is_file(), "removing the package took the user's data"
        apt("purge", "tokenclub")
        assert db.is_file() and settings.is_file(), "purging the package took the user's data"
        say("removed and purged: /opt/tokenclub and /usr/bin/tokenclub gone, the user's index and settings kept")
        (ROOT / "dist" / f"tokenclub_{bumped}_amd64.deb").unlink(missing_ok=True)
        (ROOT / "dist" / f"tokenclub-{bumped}-linux-x86_64.tar.gz").unlink(missing_ok=True)
    finally:
        if run(["dpkg-query", "-W", "tokenclub"], check=False).returncode == 0:
            run([*SUDO, "apt-get", "-y", "-q", "purge", "tokenclub"], env=APT_ENV, check=False)
        shutil.rmtree(base, ignore_errors=True)
    line = ", ".join(f"{k}={v}" for k, v in figures.items())
    say(f"passed: {line}")
    if args.json:
        args.json.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
