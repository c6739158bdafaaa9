#!/bin/sh
# The Linux installers in CI (run by .ci/run after ./dev.sh test, which made .venv and installed Xvfb
# and trayer): install the packaging tools, then build, install, use, upgrade and purge the .deb
# (packaging/linux/smoke_test.py; it purges the package even when a step fails). About 4 minutes.
set -eu
cd "$(dirname "$0")/../.."
# dpkg-deb is in dpkg; desktop-file-validate in desktop-file-utils; PyInstaller reads ELF files with
# binutils (objdump) and build.sh strips the interpreter with it; fakeroot builds the .deb without root.
# dev.sh installs them as it installs its own, waiting for an apt lock another process holds.
./dev.sh packages desktop-file-utils binutils fakeroot
exec .venv/bin/python packaging/linux/smoke_test.py --json dist/smoke.json "$@"
