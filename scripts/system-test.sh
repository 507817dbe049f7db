#!/bin/bash
# make test-system: weftd under a real systemd. Builds (once, cached under
# /var/tmp/weft-system) a Debian 12 minbase root and one with systemd, then
# runs tests/system/*.bats, each test in a fresh overlay of a cached root
# booted with systemd-nspawn. Ends with "N passed, M failed".
#
# Skips (exit 0, saying why) only when this machine cannot run a container
# at all: not root, or systemd-nspawn fails on the cached root. Every box,
# mount and process is removed on the way out, whatever happened.
set -u
cd "$(dirname "$0")/.."
. tests/system/helpers/box.bash

skip() {
	echo "test-system: skipped: $*"
	echo "0 passed, 0 failed (skipped)"
	exit 0
}

[ "$(id -u)" -eq 0 ] || skip "systemd-nspawn needs root"
box_roots || { echo "test-system: could not make the minbase root"; exit 1; }
why=$(box_probe 2>&1) || skip "systemd-nspawn cannot run here: $why"
box_systemd_root || { echo "test-system: could not make the systemd root"; exit 1; }

WEFT_BOXES=$(mktemp -d "$BOX_CACHE/run.XXXXXX") || exit 1
export WEFT_BOXES
trap box_down_all EXIT
# In the background, so that a signal runs the traps at once; the tests'
# timeout is in a process group of its own and is stopped by name.
# The bare-root test installs packages from the network: a generous cap.
WEFT_TEST_SLOW=3 sh scripts/run-tests.sh -- tests/system &
tests=$!
trap 'pkill -TERM -P $tests; kill -TERM $tests; exit 130' INT TERM
wait $tests
