#!/bin/sh
# `make run`: weftd in the foreground with a built-in configuration and the
# example C echo handler from this tree. WEFT_LISTEN (127.0.0.1:7000) and
# WEFT_WORKERS (2) override the defaults. Ctrl-C stops it gracefully.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
listen=${WEFT_LISTEN:-127.0.0.1:7000}
mkdir -p build/run
cat >build/run/weftd.conf <<EOF2
# Written by scripts/run.sh for \`make run\`; see conf/weftd.conf.in.
listen = { "$listen" }
io_threads = 2
log_level = info
control = "unix:$top/build/run/control.sock"
handler {
	command = { "$top/build/examples/handlers/echo" }
	workers = ${WEFT_WORKERS:-2}
}
EOF2
cat <<EOF2
weftd: starting on $listen with the example echo handler.
  Talk to it from another terminal:
    echo hello | $top/build/weft-cat $listen
    $top/build/weftctl -c $top/build/run/weftd.conf status
  Stop it with Ctrl-C (it answers what it has received first).
EOF2
exec "$top/build/weftd" -f -c build/run/weftd.conf
