# Boxes for the system tests: a Debian 12 minbase root made once with
# debootstrap and cached under /var/tmp, a second cached root with systemd in
# it, and per test an overlay of one of them, booted with systemd-nspawn
# and driven from outside with nsenter into its PID 1. Sourced by
# scripts/system-test.sh and by the tests/system/*.bats files.
#
# WEFT_SYSTEM_CACHE: the cache (default /var/tmp/weft-system).
# WEFT_BOXES: where this run's boxes live (made by scripts/system-test.sh);
#   every box is a folder there, so one sweep removes whatever a failed or
#   killed test left behind.

BOX_CACHE=${WEFT_SYSTEM_CACHE:-/var/tmp/weft-system}
BOX_SUITE=bookworm
BOX_MIRROR=${WEFT_MIRROR:-http://deb.debian.org/debian}
# What the booted box needs besides minbase: an init, a bus, weftd's one
# library outside libc and libsystemd, and ps/pgrep for the tests.
BOX_PKGS="systemd systemd-sysv dbus libconfuse2 procps"
BOX_MINBASE="$BOX_CACHE/minbase-$BOX_SUITE"
BOX_ROOT="$BOX_CACHE/box-$BOX_SUITE-$(printf '%s\n' "$BOX_PKGS" 1 | md5sum | cut -c1-10)"
BOX_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Both cached roots, built if missing (a lock keeps two runs from building at
# once; a root is renamed into place only when complete).
box_roots() {
	mkdir -p "$BOX_CACHE" || return 1
	(
		flock 9
		if [ ! -d "$BOX_MINBASE" ]; then
			echo "# debootstrap --variant=minbase $BOX_SUITE (once; cached in $BOX_CACHE)" >&2
			rm -rf "$BOX_MINBASE.new"
			debootstrap --variant=minbase "$BOX_SUITE" "$BOX_MINBASE.new" \
			    "$BOX_MIRROR" >"$BOX_CACHE/debootstrap.log" 2>&1 ||
			    { tail -n 20 "$BOX_CACHE/debootstrap.log" >&2; exit 1; }
			mv "$BOX_MINBASE.new" "$BOX_MINBASE"
		fi
	) 9>"$BOX_CACHE/lock"
}

# The second root: minbase plus $BOX_PKGS, installed by apt in an nspawn
# container (so it needs box_probe to have passed).
box_systemd_root() {
	(
		flock 9
		[ -d "$BOX_ROOT" ] && exit 0
		echo "# installing $BOX_PKGS into a copy of it (once)" >&2
		rm -rf "$BOX_ROOT.new"
		cp -a "$BOX_MINBASE" "$BOX_ROOT.new" &&
		    systemd-nspawn -q -D "$BOX_ROOT.new" --register=no --keep-unit \
		    env DEBIAN_FRONTEND=noninteractive sh -c "apt-get update -qq &&
		    apt-get install -y -qq --no-install-recommends $BOX_PKGS &&
		    apt-get clean" >"$BOX_CACHE/packages.log" 2>&1 ||
		    { tail -n 20 "$BOX_CACHE/packages.log" >&2; exit 1; }
		mv "$BOX_ROOT.new" "$BOX_ROOT"
	) 9>"$BOX_CACHE/lock"
}

# Can this machine run a container at all? Prints nspawn's complaint if not.
box_probe() {
	systemd-nspawn -q -D "$BOX_MINBASE" --register=no --keep-unit \
	    --private-network --read-only /bin/true </dev/null 3>&-
}

# box_up NAME [LOWER]: a writable overlay of LOWER (default: the systemd
# root) at $WEFT_BOXES/NAME/root, or a copy where overlayfs is missing;
# sets BOX to it. Not booted yet.
box_up() {
	local d="$WEFT_BOXES/$1" lower=${2:-$BOX_ROOT}

	mkdir -p "$d/upper" "$d/work" "$d/root" || return 1
	BOX="$d/root"
	mount -t overlay overlay \
	    -o "lowerdir=$lower,upperdir=$d/upper,workdir=$d/work" "$BOX" \
	    2>/dev/null || cp -a "$lower/." "$BOX/"
}

# box_boot NAME: boot it (nspawn -b, its own network) and wait until systemd
# says startup is over; sets BOX_PID to the box's PID 1.
box_boot() {
	local d="$WEFT_BOXES/$1" pid i state=

	# fd 3 is bats': a process left holding it would keep bats waiting.
	systemd-nspawn -q -D "$d/root" -b --register=no --keep-unit \
	    --private-network </dev/null >"$d/console" 2>&1 3>&- &
	pid=$!
	echo "$pid" >"$d/nspawn.pid"
	BOX_PID=
	for i in $(seq 1 200); do
		# nspawn's own short-lived helper child is not the box's init.
		BOX_PID=$(pgrep -P "$pid" -x systemd | head -n 1) || true
		[ -n "$BOX_PID" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$BOX_PID" ] || { cat "$d/console" >&2; return 1; }
	# Until its bus is up systemctl cannot even ask.
	for i in $(seq 1 600); do
		state=$(box_in systemctl is-system-running --wait 2>/dev/null) || true
		case "$state" in
		running|degraded) return 0 ;;
		esac
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "the box did not finish booting (state: ${state:-none})" >&2
	cat "$d/console" >&2
	return 1
}

# A command inside the booted box, as root, with a clean environment.
box_in() {
	nsenter -t "$BOX_PID" -a env -i PATH="$BOX_PATH" LANG=C.UTF-8 \
	    SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# Poll a condition (not a fixed sleep), up to $2 seconds (default 20).
box_wait() {
	local cond=$1 n=$((${2:-20} * 20)) i

	for i in $(seq 1 "$n"); do
		eval "$cond" && return 0
		sleep 0.05
	done
	echo "gave up waiting for: $cond" >&2
	return 1
}

# The pids of every process of box $1: those whose root is in it (what runs
# inside) and the nspawn that runs it.
box_pids() {
	local root="$WEFT_BOXES/$1/root" p r

	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case "$r" in
		"$root"|"$root"/*) echo "${p#/proc/}" ;;
		esac
	done
	pgrep -f "^systemd-nspawn .*-D $root( |\$)" || true
}

# box_down NAME: power it off (nspawn turns SIGTERM into a clean shutdown),
# kill whatever is left of it after 10 s, unmount, remove. Safe to call
# twice, and on a box that was never booted or is half made.
box_down() {
	local d="$WEFT_BOXES/$1" pid pids i

	[ -d "$d" ] || return 0
	pid=$(cat "$d/nspawn.pid" 2>/dev/null) || true
	if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
		for i in $(seq 1 200); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
	fi
	for i in $(seq 1 100); do
		pids=$(box_pids "$1")
		[ -n "$pids" ] || break
		kill -KILL $pids 2>/dev/null || true
		sleep 0.05
	done
	for i in $(seq 1 100); do
		mountpoint -q "$d/root" || break
		umount "$d/root" 2>/dev/null || sleep 0.05
	done
	! mountpoint -q "$d/root" || umount -l "$d/root"
	rm -rf "$d"
}

box_down_all() {
	local d

	[ -d "${WEFT_BOXES:-}" ] || return 0
	for d in "$WEFT_BOXES"/*/; do
		[ -d "$d" ] && box_down "$(basename "$d")"
	done
	rmdir "$WEFT_BOXES" 2>/dev/null
	return 0
}

# What io_threads = auto comes to in the box (weftd.conf(5)): one per 4 CPUs
# of its affinity, at least 1. nproc counts the affinity mask too.
auto_io_threads() {
	local n
	n=$(nproc)
	if [ "$n" -lt 4 ]; then echo 1; else echo $((n / 4)); fi
}
