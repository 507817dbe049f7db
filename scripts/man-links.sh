#!/bin/sh
# One link per name in a manual page's NAME section, so that `man
# wf_loop_post` finds wf_loop(3): a stub file NAME.SECTION that holds only
# `.so manSECTION/PAGE.SECTION`, as Debian packages make them. The page's own
# name, in any case, gets none.
#
#   man-links.sh dir page...     create the stubs in dir (dir/man3, say)
#   man-links.sh -n dir page...  print the stubs' paths, create nothing
#                                (for uninstall)
set -eu
set -f # the names are split, never globbed

usage() {
	echo "usage: man-links.sh [-n] dir page..." >&2
	exit 2
}

dry=0
if [ "${1:-}" = -n ]; then
	dry=1
	shift
fi
[ $# -ge 2 ] || usage
dir=$1
shift

# The names of a page's NAME section, one a line: the text up to the
# " \- " that starts the description, without \% and \&, \- as -.
names() {
	sed -n '/^\.SH "\{0,1\}NAME"\{0,1\}$/,/^\.SH/{/^\.SH/d;p;}' "$1" |
		paste -s -d ' ' - |
		sed -e 's/ \\- .*//' -e 's/\\[%&]//g' -e 's/\\-/-/g' |
		tr ',' ' ' | tr -s ' ' '\n' | sed '/^$/d'
}

lower() {
	echo "$1" | tr '[:upper:]' '[:lower:]'
}

for page in "$@"; do
	base=${page##*/}
	sect=${base##*.}
	own=${base%.*}
	case $sect in
	[1-8]) ;;
	*) echo "man-links.sh: $page: not a manual page" >&2; exit 1 ;;
	esac
	list=$(names "$page")
	[ -n "$list" ] || { echo "man-links.sh: $page: no NAME section" >&2; exit 1; }
	for name in $list; do
		case $name in
		*[!A-Za-z0-9_.-]* | .*)
			echo "man-links.sh: $page: bad name '$name'" >&2
			exit 1
			;;
		esac
		# man finds a name in another case by itself (WF_VERSION in
		# wf_version.3), and such a stub would clash on a file system
		# that ignores case.
		[ "$(lower "$name")" = "$(lower "$own")" ] && continue
		stub=$dir/$name.$sect
		if [ "$dry" = 1 ]; then
			echo "$stub"
			continue
		fi
		# Never put a stub over a real page.
		if [ -e "$stub" ] && ! head -n 1 "$stub" | grep -q '^\.so '; then
			echo "man-links.sh: $stub is a page, not a link: '$name' of $page" >&2
			exit 1
		fi
		echo ".so man$sect/$base" > "$stub"
		chmod 644 "$stub"
	done
done
