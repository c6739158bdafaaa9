#!/bin/sh
# Build TokenClub for macOS: dist/TokenClub.app (PyInstaller, from packaging/tokenclub.spec) and
# dist/tokenclub-<version>-macos-<arch>.dmg (the app beside a link to /Applications).
# Run by .github/workflows/installers.yml on a macOS runner; it cannot be built on Linux.
# The app is not signed or notarized: the first start needs right-click > Open (README, Install).
# User data (~/Library/Application Support/tokenclub, ~/Library/Caches/tokenclub) is never touched
# by replacing or deleting the app.
set -eu
cd "$(dirname "$0")/../.."
VERSION=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' app/__init__.py)
ARCH=$(uname -m)
VENV=${BUILD_VENV:-.venv-build}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --require-hashes --no-deps -r requirements/lock.txt -r packaging/build-lock.txt
"$VENV/bin/python" icons/render.py build/packaging/icons >/dev/null
cp icons/tokenclub.svg build/packaging/icons/
TOKENCLUB_ICONS=build/packaging/icons "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/packaging/pyinstaller packaging/tokenclub.spec
dist/TokenClub.app/Contents/MacOS/tokenclub --version
STAGE=build/packaging/dmg
rm -rf "$STAGE" && mkdir -p "$STAGE"
cp -R dist/TokenClub.app "$STAGE/"
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "TokenClub $VERSION" -srcfolder "$STAGE" -ov -format UDZO \
    "dist/tokenclub-$VERSION-macos-$ARCH.dmg"
du -sh dist/TokenClub.app "dist/tokenclub-$VERSION-macos-$ARCH.dmg"
