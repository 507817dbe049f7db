#!/bin/sh
# with-devlog.sh SOCKET CMD...: run CMD in a mount namespace of its own
# whose /dev/log is SOCKET (glibc's syslog(3) writes there), the rest of
# /dev as it was. Needs root. The pid stays CMD's (exec all the way).
set -eu
sock=$1
shift
exec unshare --mount --propagation private sh -c '
	set -eu
	old=$(mktemp -d)
	mount --rbind /dev "$old"
	mount -t tmpfs -o mode=0755 tmpfs /dev
	for n in null zero full random urandom tty; do
		touch "/dev/$n"
		mount --bind "$old/$n" "/dev/$n"
	done
	ln -s "$0" /dev/log
	exec "$@"' "$sock" "$@"
