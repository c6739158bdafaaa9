#!/bin/sh
# The Linux installers in CI (run by .ci/run after ./dev.sh test, which made .venv and installed Xvfb
# and trayer): install the packaging tools, then build, install, use, upgrade and purge the .deb
# (packaging/linux/smoke_test.py; it purges the package even when a step fails). About 4 minutes.
set -eu
cd "$(dirname "$0")/../.."
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
# dpkg-deb is in dpkg; desktop-file-validate in desktop-file-utils; PyInstaller reads ELF files with
# binutils (objdump) and build.sh strips the interpreter with it; fakeroot builds the .deb without root
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    desktop-file-utils binutils fakeroot >/dev/null
exec .venv/bin/python packaging/linux/smoke_test.py --json dist/smoke.json "$@"
