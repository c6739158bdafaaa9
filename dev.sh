#!/bin/sh
# One-step set-up for a fresh machine, then run the app or the tests.
#   ./dev.sh app     installs what is missing, then starts TokenClub (the tray app)
#   ./dev.sh test    installs what is missing, then runs the linters and the whole test suite
set -eu
cd "$(dirname "$0")"

# Qt's xcb platform libraries, a virtual X server with a tray host (screenshot tests),
# and the tools the tests drive for real.
APT_PACKAGES="python3-venv libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libglib2.0-0
libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxrender1 libxi6 xvfb trayer x11-utils procps"

system_packages() {
    command -v apt-get >/dev/null 2>&1 || return 0
    missing=""
    for p in $APT_PACKAGES; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "installing system packages:$missing"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

python_env() {
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
    # strict: app/ linked under build/ and put on the path by a plain .pth line; the default editable
    # finder costs every start ~12 ms of imports (a new module needs this install again)
    .venv/bin/python -m pip install -q -e ".[test]" --config-settings editable_mode=strict
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
        python_env
        .venv/bin/ruff check app tests bench
        .venv/bin/mypy app
        .venv/bin/lint-imports
        exec .venv/bin/python -m pytest -q "$@"
        ;;
    *)
        echo "usage: ./dev.sh app | ./dev.sh test [pytest args]" >&2
        exit 2
        ;;
esac
