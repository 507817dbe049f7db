#!/bin/sh
# Install what building and testing weft need on Debian 12, starting from a
# bare debootstrap minbase root (no make, no compiler). WEFT_DEPS_EXTRA adds
# packages (make deb and make test-system need more).
#
# Packages already installed are skipped: a ready machine pays one dpkg-query
# and never runs apt-get. Missing ones: as root it runs apt-get update and
# apt-get install; otherwise it prints the exact command and exits 1.
set -eu

pkgs="gcc make pkg-config libc6-dev libcmocka-dev bats bats-support bats-assert valgrind libconfuse-dev libsystemd-dev python3 procps systemd man-db groff-base"
[ "${WEFT_DEPS_EXTRA:-}" ] && pkgs="$pkgs $WEFT_DEPS_EXTRA"

# "ii |gcc" for each installed one; unknown names only go to stderr.
installed=" $(dpkg-query -W -f='${db:Status-Abbrev}|${Package}\n' $pkgs 2>/dev/null |
	sed -n 's/^ii *|//p' | tr '\n' ' ')"
missing=""
for p in $pkgs; do
	case "$installed" in
	*" $p "*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages:$missing" >&2
	echo "deps.sh: run as root: apt-get update && $cmd" >&2
	exit 1
fi
echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# The package lists of a fresh machine may be empty or stale; refresh once.
apt-get update -qq
$cmd
