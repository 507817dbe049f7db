#!/usr/bin/env bats
# The manual pages: they render without a warning, have the usual sections,
# weftd.conf(5) documents every key daemon/config.c defines, and every
# function the shared library exports has a section 3 page that names it.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOP="$BATS_TEST_DIRNAME/../.."
MAN="$TOP/man"

# Every page of man/, whatever its section.
pages() {
	for path in "$MAN"/*.[1-8]; do
		[ -f "$path" ] && echo "${path##*/}"
	done
}

# The names of a page's NAME section, one a line, as scripts/man-links.sh
# makes its links from them.
names() {
	sed -n '/^\.SH "\{0,1\}NAME"\{0,1\}$/,/^\.SH/{/^\.SH/d;p;}' "$MAN/$1" |
		paste -s -d ' ' - |
		sed -e 's/ \\- .*//' -e 's/\\[%&]//g' -e 's/\\-/-/g' |
		tr ',' ' ' | tr -s ' ' '\n' | sed '/^$/d'
}

@test "every page renders with groff -ww and no warning" {
	# The glob itself must find the pages, or this test proves nothing.
	assert [ "$(pages | wc -l)" -ge 6 ]
	for page in $(pages); do
		run groff -ww -z -man "$MAN/$page"
		assert_success
		[ -z "$output" ] || fail "$page: $output"
	done
}

@test "every page has NAME, SYNOPSIS and DESCRIPTION" {
	for page in $(pages); do
		for section in NAME SYNOPSIS DESCRIPTION; do
			# weft-protocol(7) describes a format, not a command.
			[ "$page" = weft-protocol.7 ] && [ "$section" = SYNOPSIS ] &&
				continue
			run grep -c "^\.SH \"\?$section\"\?\$" "$MAN/$page"
			[ "$output" = 1 ] || fail "$page: want one .SH $section, found $output"
		done
	done
}

@test "every function the shared library exports is in the NAME of a section 3 page" {
	make -s -C "$TOP" lib/libweft.so.0
	# T, W: functions; D, B: data. The version suffix (@@WEFT_0) goes.
	exported=$(nm -D --defined-only "$TOP/lib/libweft.so.0" |
		awk '$2 ~ /^[TWDB]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u)
	assert [ -n "$exported" ]
	named=$(for path in "$MAN"/*.3; do names "${path##*/}"; done | sort -u)
	assert [ -n "$named" ]
	missing=$(comm -23 <(echo "$exported") <(echo "$named") | tr '\n' ' ')
	[ -z "$missing" ] || fail "exported but in no page's NAME (man wf_... finds nothing): $missing"
}

@test "a name is in the NAME of one page only, and is no other page's own" {
	all=$(for page in $(pages); do names "$page" | sed "s|\$| $page|"; done)
	twice=$(echo "$all" | awk '{ print $1 }' | sort | uniq -d | tr '\n' ' ')
	[ -z "$twice" ] || fail "in the NAME of more than one page: $twice"
	# A link named like another page would overwrite that page at install.
	clash=$(echo "$all" | while read -r name page; do
		for other in "$MAN/$name".[1-8]; do
			[ -f "$other" ] && [ "${other##*/}" != "$page" ] &&
				echo "$name ($page)"
		done
	done | tr '\n' ' ')
	[ -z "$clash" ] || fail "a NAME entry is another page's name: $clash"
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
