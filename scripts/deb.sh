#!/bin/sh
# make deb: Debian packages from this tree with debhelper.
#
#   sh scripts/deb.sh VERSION
#
# Copies the tree as a clone has it (no build output) to
# build/deb/weft-VERSION, adds scripts/debian/ as its debian/ with a
# changelog entry for VERSION, and runs dpkg-buildpackage -b. Leaves
# build/deb/weftd_VERSION_ARCH.deb, libweft0_..., libweft-dev_... and the
# .changes; the build log is build/deb/build.log.
set -eu
cd "$(dirname "$0")/.."
version=$1
out=build/deb
src=$out/weft-$version
rm -rf "$out"
mkdir -p "$src"
tar -c --exclude=./build --exclude=./.git --exclude=./lib/libweft.a \
	--exclude='./lib/libweft.so*' . |
	tar -x -C "$src"
cp -r scripts/debian "$src/debian"
maint=$(sed -n 's/^Maintainer: //p' scripts/debian/control)
cat >"$src/debian/changelog" <<EOF2
weft ($version) unstable; urgency=medium

  * Built from the weft tree by make deb.

 -- $maint  $(date -R)
EOF2
if ! (cd "$src" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	echo "deb.sh: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
	exit 1
fi
ls "$out"/*.deb
