#!/bin/sh
# Build TokenClub for Linux: a PyInstaller one-folder bundle, packed as
#   dist/tokenclub_<version>_amd64.deb            (app in /opt/tokenclub, /usr/bin/tokenclub, desktop entry, icons)
#   dist/tokenclub-<version>-linux-x86_64.tar.gz  (the same bundle, portable: unpack and run tokenclub/tokenclub)
#
#   packaging/linux/build.sh                        build the bundle, then both packages
#   packaging/linux/build.sh --repack VERSION       pack the bundle already built under another package
#                                                   version (the smoke test's upgrade; the app inside is unchanged)
#
# The bundle installs from the locks only: requirements/lock.txt (the app) and packaging/build-lock.txt
# (PyInstaller), every file checked against its hash, in a venv of its own (.venv-build, or $BUILD_VENV).
# The bundle needs a glibc at least as new as the build machine's: release builds are made on
# Debian 12 (bookworm, glibc 2.36), so they run on Debian 12+, Ubuntu 23.04+ (24.04 LTS the oldest still
# supported; not 22.04, whose glibc is 2.35), Fedora 37+, RHEL 10 (the README's Install says the same).
# Needs: python3 (3.11+) with venv, dpkg-deb, fakeroot (unless run as root), desktop-file-validate.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

VERSION=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' app/__init__.py)
[ -n "$VERSION" ] || { echo "build.sh: no __version__ in app/__init__.py" >&2; exit 1; }
ARCH=amd64
WORK=${TOKENCLUB_BUILD_DIR:-$ROOT/build/packaging}  # /build/ is git-ignored; dev.sh's editable link lives beside
VENV=${BUILD_VENV:-$ROOT/.venv-build}
BUNDLE=$WORK/dist/tokenclub
mkdir -p dist "$WORK"

repack=""
if [ "${1:-}" = "--repack" ]; then
    repack=1
    VERSION=${2:?"usage: build.sh --repack VERSION"}
    [ -x "$BUNDLE/tokenclub" ] || { echo "build.sh: no bundle in $BUNDLE; build it first" >&2; exit 1; }
fi

need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || { echo "build.sh: $tool is missing (apt-get install $(pkg "$tool"))" >&2; exit 1; }
    done
}
pkg() {
    case "$1" in
        dpkg-deb) echo dpkg ;;
        desktop-file-validate) echo desktop-file-utils ;;
        *) echo "$1" ;;
    esac
}
need dpkg-deb desktop-file-validate
[ "$(id -u)" = 0 ] || need fakeroot

if [ -z "$repack" ]; then
    started=$(date +%s)
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --no-deps \
        -r requirements/lock.txt -r packaging/build-lock.txt
    # every icon from the one SVG, fresh, into the build folder (the spec reads them from there)
    rm -rf "$WORK/icons"
    mkdir -p "$WORK/icons"
    cp icons/tokenclub.svg "$WORK/icons/"
    "$VENV/bin/python" icons/render.py "$WORK/icons" >/dev/null
    rm -rf "$WORK/dist"
    TOKENCLUB_ICONS="$WORK/icons" "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
        --distpath "$WORK/dist" --workpath "$WORK/pyinstaller" packaging/tokenclub.spec
    # Strip only the interpreter's own files (this Python was compiled with debug info: libpython
    # shrinks from 22 to 6 MB). Never numpy's bundled libraries (stripping breaks them) nor Qt's.
    if command -v strip >/dev/null 2>&1; then
        strip --strip-unneeded "$BUNDLE"/_internal/libpython3*.so* "$BUNDLE"/_internal/python3*/lib-dynload/*.so
    fi
    echo "bundle built in $(( $(date +%s) - started )) s: $BUNDLE ($(du -sh "$BUNDLE" | cut -f1))"
fi

# -- the .deb ------------------------------------------------------------------------------------
STAGE=$WORK/deb
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
    "$STAGE/usr/share/doc/tokenclub" "$STAGE/usr/share/icons/hicolor/scalable/apps"
cp -a "$BUNDLE" "$STAGE/opt/tokenclub"
ln -s /opt/tokenclub/tokenclub "$STAGE/usr/bin/tokenclub"
cp resources/tokenclub.desktop "$STAGE/usr/share/applications/tokenclub.desktop"
desktop-file-validate "$STAGE/usr/share/applications/tokenclub.desktop"
for png in "$WORK"/icons/png/tokenclub-*.png; do
    size=$(basename "$png" .png | sed 's/^tokenclub-//')
    mkdir -p "$STAGE/usr/share/icons/hicolor/${size}x${size}/apps"
    cp "$png" "$STAGE/usr/share/icons/hicolor/${size}x${size}/apps/tokenclub.png"
done
cp icons/tokenclub.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/tokenclub.svg"
cp packaging/linux/copyright "$STAGE/usr/share/doc/tokenclub/copyright"
for script in postinst postrm; do
    install -m 0755 "packaging/linux/debian/$script" "$STAGE/DEBIAN/$script"
done
SIZE_KB=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
# Depends (debian/control.in): only what the bundle links to outside itself (readelf over every ELF
# file: libc, EGL/GL, libxcb; Qt's xcb helpers, fontconfig, D-Bus are inside) and a font to draw with;
# the Wayland client libraries are recommended (without them Qt falls back to X11 / XWayland)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE_KB@/$SIZE_KB/" \
    packaging/linux/debian/control.in > "$STAGE/DEBIAN/control"
# root-owned files whatever user builds; directories 0755, files as the bundle has them
find "$STAGE" -type d -exec chmod 0755 {} +
DEB=dist/tokenclub_${VERSION}_${ARCH}.deb
fakeroot_cmd=""
[ "$(id -u)" = 0 ] || fakeroot_cmd=fakeroot
# xz at level 6: what Debian's own packages use; the bundle shrinks to about a third
$fakeroot_cmd dpkg-deb --root-owner-group -Zxz -z6 --build "$STAGE" "$DEB" >/dev/null

# -- the portable .tar.gz -----------------------------------------------------------------------
TAR=dist/tokenclub-${VERSION}-linux-x86_64.tar.gz
PORT=$WORK/portable/tokenclub
rm -rf "$WORK/portable"
mkdir -p "$PORT"
cp -a "$BUNDLE/." "$PORT/"
cp resources/tokenclub.desktop "$PORT/tokenclub.desktop"
cp "$WORK/icons/png/tokenclub-256.png" "$PORT/tokenclub.png"
tar -C "$WORK/portable" --owner=0 --group=0 --numeric-owner -czf "$TAR" tokenclub
rm -rf "$STAGE" "$WORK/portable"  # two more copies of the bundle; the bundle itself stays for --repack

echo "bundle  $(du -sh "$BUNDLE" | cut -f1)  $BUNDLE"
echo "deb     $(du -h "$DEB" | cut -f1)  $DEB"
echo "tar.gz  $(du -h "$TAR" | cut -f1)  $TAR"
