#!/bin/sh
# Install what building and testing weft need on Debian 12.
# As root it runs apt-get; otherwise it prints the exact command to run.
# Packages already installed are skipped, so a ready machine pays one dpkg query.
set -eu

pkgs="gcc make pkg-config libc6-dev libcmocka-dev bats bats-support bats-assert valgrind libconfuse-dev libsystemd-dev python3 procps systemd man-db groff-base"
[ "${WEFT_DEPS_EXTRA:-}" ] && pkgs="$pkgs $WEFT_DEPS_EXTRA"

missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$st" in
	ii*) ;;
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
export DEBIAN_FRONTEND=noninteractive
# The package lists of a fresh machine may be empty or stale; refresh once.
apt-get update -qq
$cmd
