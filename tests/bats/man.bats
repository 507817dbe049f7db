#!/usr/bin/env bats
# The manual pages: they render without a warning, have the usual sections,
# and weftd.conf(5) documents every key daemon/config.c defines.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOP="$BATS_TEST_DIRNAME/../.."
MAN="$TOP/man"
PAGES="weftd.8 weftd.conf.5 weft-cat.1 weftctl.1 libweft.3 weft-protocol.7"

@test "every page renders with groff -ww and no warning" {
	for page in $PAGES; do
		run groff -ww -z -man "$MAN/$page"
		assert_success
		assert_output ""
	done
}

@test "every page has NAME, SYNOPSIS and DESCRIPTION" {
	for page in $PAGES; do
		for section in NAME SYNOPSIS DESCRIPTION; do
			# weft-protocol(7) describes a format, not a command.
			[ "$page" = weft-protocol.7 ] && [ "$section" = SYNOPSIS ] &&
				continue
			run grep -c "^\.SH \"\?$section\"\?\$" "$MAN/$page"
			[ "$output" = 1 ] || fail "$page: want one .SH $section, found $output"
		done
	done
}

@test "weftd.conf(5) documents every key of daemon/config.c" {
	keys=$(sed -n 's/.*CFG_\(INT\|STR\|STR_LIST\|SEC\)("\([a-z_]*\)".*/\2/p' \
		"$TOP/daemon/config.c" | sort -u)
	# The extraction itself must keep working, or this test proves nothing.
	assert [ -n "$keys" ]
	missing=
	for key in $keys; do
		# Each key is a tagged paragraph of its own: .TP, then .B key.
		grep -q "^\.B \(\\\\%\)\?$key\$" "$MAN/weftd.conf.5" ||
			missing="$missing $key"
	done
	[ -z "$missing" ] || fail "not in man/weftd.conf.5:$missing"
}
