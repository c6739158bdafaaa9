#!/bin/sh
# One-step set-up for a fresh machine, then run the app or the tests.
#   ./dev.sh app     installs what is missing, then starts TokenClub (the tray app)
#   ./dev.sh test    installs what is missing, then runs the linters and the whole test suite
#   ./dev.sh test --latest   the same against the newest releases (not the lock), in .venv-latest
#   ./dev.sh lock    re-resolves requirements/lock.txt from pyproject.toml
set -eu
cd "$(dirname "$0")"

# Qt's xcb platform libraries, a virtual X server with a tray host (screenshot tests),
# the tools the tests drive for real (a private D-Bus and GNOME Keyring: the keyring tests),
# desktop-file-validate (tests/packaging checks the desktop entry), and OpenSSH's server and client
# (tests/console runs a throwaway sshd on 127.0.0.1 as the dedicated machine, and git for the agent
# runs' worktrees and loops there), and chromium (tests/club opens the club's HTML board in it,
# headless, through Playwright; never `playwright install`).
APT_PACKAGES="python3-venv libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libglib2.0-0
libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxrender1 libxi6 xvfb trayer x11-utils procps
dbus-daemon gnome-keyring desktop-file-utils openssh-server openssh-client git chromium"

# The Debian packages named (default: APT_PACKAGES) that are not installed yet, installed.
system_packages() {
    command -v apt-get >/dev/null 2>&1 || return 0
    missing=""
    for p in ${*:-$APT_PACKAGES}; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "installing system packages:$missing"
    apt_get update -qq
    apt_get install -y -qq --no-install-recommends $missing >/dev/null
}

# apt and dpkg hold fcntl locks while they work (an unattended upgrade, another install): wait for
# them, saying so, instead of failing. apt-get waits out a dpkg lock taken in between itself, but
# not the package lists' lock (update): a try that failed while a lock is held is made again.
APT_LOCKS="/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock"
APT_WAIT_S=600

# The process holding one of those locks (/proc/locks lists fcntl locks by inode), or a failure.
apt_lock_holder() {
    for f in $APT_LOCKS; do
        ino=$(stat -c %i "$f" 2>/dev/null) || continue
        pid=$(awk -v ino="$ino" '$2 != "->" { n = split($6, id, ":"); if (id[n] == ino) { print $5; exit } }' \
            /proc/locks 2>/dev/null) || pid=""
        [ -n "$pid" ] && echo "$pid" && return 0
    done
    return 1
}

wait_for_apt() {
    waited=0
    while pid=$(apt_lock_holder); do
        if [ "$waited" -ge "$APT_WAIT_S" ]; then
            echo "the apt lock is still held after $APT_WAIT_S s (process $pid); run this again once it is done" >&2
            exit 1
        fi
        [ "$waited" = 0 ] && echo "waiting for the apt lock held by another process" \
            "($pid $(cat "/proc/$pid/comm" 2>/dev/null || true))…" >&2
        sleep 2
        waited=$((waited + 2))
    done
}

apt_get() {
    tries=0
    while :; do
        wait_for_apt
        code=0
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$APT_WAIT_S" "$@" || code=$?
        tries=$((tries + 1))
        if [ "$code" = 0 ] || [ "$tries" -ge 5 ] || ! apt_lock_holder >/dev/null; then
            return "$code"
        fi
    done
}

# The real agent CLIs that tests/realagents drives, exactly as its package-lock.json pins them, and the
# Node 22 (an npm package) that runs them; npm itself from Debian's packages when the machine has none.
# Not `npm ci`: the registry serves no package for some other platforms' optional binaries, so the
# lock cannot list them and ci refuses it; install keeps to the lock and leaves it as it is. No install
# scripts: Claude Code's and OpenCode's only copy their platform binary, which the tests run directly.
agent_clis() {
    if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
        sudo=""
        [ "$(id -u)" = 0 ] || sudo="sudo"
        echo "installing system packages: nodejs npm"
        apt_get update -qq
        apt_get install -y -qq --no-install-recommends nodejs npm >/dev/null
    fi
    npm install --prefix tests/realagents --no-save --ignore-scripts --no-audit --no-fund --loglevel=error
}

LOCK=requirements/lock.txt
PIP_TOOLS="pip-tools==7.7.0"

# Exactly the locked set, each file checked against its hash, then TokenClub itself (its build
# backend comes from the lock too, so nothing unpinned is fetched).
python_env() {
    venv="${1:-.venv}"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r "$LOCK"
    # strict: app/ linked under build/ and put on the path by a plain .pth line; the default editable
    # finder costs every start ~12 ms of imports (a new module needs this install again)
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . \
        --config-settings editable_mode=strict
    # genai-prices' answers for every name its data spells out, for the version just installed
    "$venv/bin/python" -m app.core.price_table >/dev/null
}

# The newest releases the pyproject ranges allow, in a venv of their own: what the next lock would break.
latest_env() {
    [ -x .venv-latest/bin/python ] || python3 -m venv .venv-latest
    .venv-latest/bin/python -m pip install -q --upgrade pip
    .venv-latest/bin/python -m pip install -q --upgrade --upgrade-strategy eager -e ".[test]" \
        --config-settings editable_mode=strict
    .venv-latest/bin/python -m pip list --format=freeze | grep -v '^tokenclub' > .venv-latest/versions.txt
    echo "testing against the newest releases (.venv-latest/versions.txt):"
    .venv-latest/bin/python - "$LOCK" .venv-latest/versions.txt <<'PY'
import re, sys
def pins(path):
    text = open(path).read().lower().replace("_", "-")
    return dict(re.findall(r"^([a-z0-9.-]+)==(\S+)", text, re.M))
locked, now = pins(sys.argv[1]), pins(sys.argv[2])
for name in sorted(locked.keys() & now.keys()):
    if locked[name] != now[name]:
        print(f"  {name} {locked[name]} -> {now[name]}")
PY
}

# Re-resolve the lock from pyproject.toml (newest releases within its ranges), with hashes.
lock() {
    [ -x .venv-lock/bin/python ] || python3 -m venv .venv-lock
    .venv-lock/bin/python -m pip install -q --disable-pip-version-check "$PIP_TOOLS"
    .venv-lock/bin/pip-compile -q --upgrade --generate-hashes --allow-unsafe --extra test \
        --build-deps-for editable --no-emit-index-url --no-emit-find-links --strip-extras \
        -o "$LOCK" pyproject.toml
    echo "$LOCK: $(grep -c '==' "$LOCK") packages pinned with hashes"
}

checks() {
    venv="$1"
    shift
    "$venv/bin/ruff" check app tests bench packaging icons
    "$venv/bin/mypy" app
    "$venv/bin/lint-imports"
    exec "$venv/bin/python" -m pytest -q "$@"
}

what="${1:-}"
[ $# -gt 0 ] && shift
case "$what" in
    app)
        system_packages
        python_env
        exec .venv/bin/tokenclub "$@"
        ;;
    test)
        system_packages
        agent_clis
        if [ "${1:-}" = "--latest" ]; then
            shift
            latest_env
            checks .venv-latest "$@"
        fi
        python_env
        checks .venv "$@"
        ;;
    lock)
        lock
        ;;
    packages)  # more system packages, with the same wait for the apt lock (packaging/linux/ci.sh)
        system_packages "$@"
        ;;
    *)
        echo "usage: ./dev.sh app | ./dev.sh test [--latest] [pytest args] | ./dev.sh lock | ./dev.sh packages NAME..." >&2
        exit 2
        ;;
esac
