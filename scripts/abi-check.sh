#!/bin/sh
# libweft.so's ABI against the baseline kept in abi/ (abigail-tools).
#
#   sh scripts/abi-check.sh dump  SO BASELINE   write SO's ABI (make abi-dump)
#   sh scripts/abi-check.sh check SO BASELINE   compare SO with it (make abi-check)
#
# Paths are relative to the top of the tree. Only the types of the public
# headers (lib/include/weft) count, and only what the exported wf_* symbols
# reach.
#
# Policy of `check`:
#   - no change: pass;
#   - only additions (new functions or variables, or a field appended to a
#     wf_*_opts struct, see abi/libweft.abignore): pass, print the report and
#     the command that records them in the baseline;
#   - an incompatible change (a removed symbol, or a changed function or
#     variable: a struct field inserted, a parameter type changed): fail,
#     unless the soname changed with it.
#
# abidiff's exit status is a bit field (abidiff(1)): 1 error, 2 usage error,
# 4 ABI change, 8 incompatible change. Bit 8 covers removed symbols and a
# changed soname but not a changed struct layout, which only sets bit 4, so
# the "Changed" counts of the report's summary lines decide that part.
set -eu
cd "$(dirname "$0")/.."

usage() {
	echo "usage: sh scripts/abi-check.sh dump|check SO BASELINE" >&2
	exit 2
}
[ $# -eq 3 ] || usage
mode=$1 so=$2 baseline=$3

HEADERS=lib/include/weft
# Same tree, same dump, on any machine: no corpus path, no compilation
# directory, file names without their directories, and type ids hashed from
# the types rather than numbered in order (one new type would renumber every
# later one). The locations must stay (no --no-show-locs): abidiff takes a
# baseline type without one for a private type and filters its changes out,
# so an inserted struct field would pass.
DUMP_OPTS="--headers-dir $HEADERS --drop-private-types --exported-interfaces-only
	--no-corpus-path --no-comp-dir-path --short-locs --type-id-style hash"
# No default suppressions (~/.abignore): the verdict depends on the tree
# only, and on the changes abi/libweft.abignore declares compatible.
SUPPRESSIONS=abi/libweft.abignore
DIFF_OPTS="--headers-dir2 $HEADERS --drop-private-types --exported-interfaces-only
	--no-default-suppression --suppressions $SUPPRESSIONS --fail-no-debug-info"

die() {
	echo "abi-check: $*" >&2
	exit 1
}

for tool in abidw abidiff readelf; do
	command -v $tool >/dev/null ||
		die "$tool not found: install abigail-tools and binutils (make abi-check does it: WEFT_DEPS_EXTRA=abigail-tools sh scripts/deps.sh)"
done
[ -f "$so" ] || die "$so not found (make $so)"
# Without DWARF abidw sees the symbols but no types: a layout change would pass.
readelf -S "$so" | grep -q '\.debug_info' ||
	die "$so has no debug info: build it with -g (the default CFLAGS are -O2 -g)"

soname_of_so() {
	readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'
}

soname_of_dump() {
	sed -n "s/^<abi-corpus .* soname='\([^']*\)'.*/\1/p" "$1" | head -n 1
}

case $mode in
dump)
	mkdir -p "$(dirname "$baseline")"
	# shellcheck disable=SC2086 # DUMP_OPTS is a list of words
	abidw $DUMP_OPTS --out-file "$baseline.tmp" "$so" ||
		{ rm -f "$baseline.tmp"; die "abidw $so failed"; }
	mv "$baseline.tmp" "$baseline"
	nfn=$(grep -c '<elf-symbol .*func-type' "$baseline" || true)
	echo "abi-check: wrote $baseline ($(soname_of_dump "$baseline"), $nfn functions)"
	exit 0
	;;
check) ;;
*) usage ;;
esac

[ -f "$baseline" ] || die "no baseline $baseline: make abi-dump writes it"
[ -f "$SUPPRESSIONS" ] || die "$SUPPRESSIONS not found"

report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
# shellcheck disable=SC2086 # DIFF_OPTS is a list of words
abidiff $DIFF_OPTS "$baseline" "$so" >"$report" 2>&1 || status=$?

if [ $((status & 3)) -ne 0 ]; then
	cat "$report" >&2
	die "abidiff $baseline $so failed (exit status $status)"
fi
if [ "$status" -eq 0 ]; then
	if grep -q 'filtered out' "$report"; then
		cat "$report"
		echo "abi-check: compatible: the changes above were filtered out ($SUPPRESSIONS, or harmless to libabigail); record them with: make abi-dump"
	else
		echo "abi-check: $so matches $baseline (abidiff exit status 0)"
	fi
	exit 0
fi

# "Functions changes summary: 0 Removed, 1 Changed (2 filtered out), 0 Added
# functions", and the same for variables; filtered out are those
# abi/libweft.abignore or libabigail deem harmless.
changed=$(sed -n -e 's/^Functions changes summary: .* \([0-9][0-9]*\) Changed.*/\1/p' \
	-e 's/^Variables changes summary: .* \([0-9][0-9]*\) Changed.*/\1/p' "$report" |
	awk '{ n += $1 } END { print n + 0 }')
grep -q '^Functions changes summary:' "$report" ||
	{ cat "$report" >&2; die "no summary line in abidiff's report (a newer abigail-tools?): cannot tell changed from added"; }
old_soname=$(soname_of_dump "$baseline")
new_soname=$(soname_of_so "$so")

echo "abi-check: abidiff $baseline $so: exit status $status"
cat "$report"
if [ $((status & 8)) -eq 0 ] && [ "$changed" -eq 0 ]; then
	echo "abi-check: compatible: only additions; record them in the baseline with: make abi-dump"
	exit 0
fi
if [ "$old_soname" != "$new_soname" ]; then
	echo "abi-check: incompatible, but the soname changed with it ($old_soname -> $new_soname): pass; record the new ABI with: make abi-dump"
	exit 0
fi
die "incompatible ABI change (the report above: removed or changed functions or variables) and the soname is still $new_soname: undo it, or bump SOVER in the Makefile and run make abi-dump (see abi/README)"
