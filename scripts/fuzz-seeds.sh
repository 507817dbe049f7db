#!/bin/sh
# Seed corpora for the fuzz targets (tests/fuzz), written under DIR/<target>.
#   sh scripts/fuzz-seeds.sh DIR
set -eu
cd "$(dirname "$0")/.."
out=$1
mkdir -p "$out/buffer" "$out/addr" "$out/config" "$out/handler" "$out/http"
# buffer: op pairs (what | count<<2, n): appends, prepends, consumes, reserves.
printf '\000\360\001\010\000\001' >"$out/buffer/prepend-full"
printf '\000\310\001\020\000\050\001\010' >"$out/buffer/prepend-twice"
printf '\000\010\003\004\002\377\000\100' >"$out/buffer/consume-reserve"
printf '\000\010\000\000\000\010\000\000' >"$out/buffer/frame"
# addr: every notation weftd takes.
for a in 127.0.0.1:7000 '*:7000' '[::1]:7000' '[::]:0' unix:/run/weft/weftd.sock \
    0.0.0.0:65535 '[fe80::1]:80'; do
	printf '%s' "$a" >"$out/addr/$(printf '%s' "$a" | tr -c 'a-z0-9' _)"
done
# config: the shipped file and small ones with every section.
sed 's|@LIBEXECDIR@|/bin|' conf/weftd.conf.in >"$out/config/shipped"
printf 'handler {\n command = { "/bin/cat" }\n}\n' >"$out/config/minimal"
printf 'listen = { "unix:/tmp/x.sock" }\nunix_socket { owner = "0"\n mode = 0600 }\nhandler { command = { "/bin/cat" } workers = 2 }\n/* c */ # d\n' \
    >"$out/config/sections"
# handler: requests as weftd sends them.
printf '\000\000\000\005\000\000\000\000hello\000\000\000\000\000\000\000\000' \
    >"$out/handler/two"
printf '\000\000\000\003\000\144\000\000abc\000\000\000\002\000\000\000\001xy' \
    >"$out/handler/bad-flags"
# http: what Prometheus and balancers send, and near misses.
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\n\r\n' >"$out/http/prometheus"
printf 'GET /healthz HTTP/1.0\r\n\r\n' >"$out/http/haproxy"
printf 'HEAD /readyz?x=1 HTTP/1.1\n\n' >"$out/http/head-lf"
printf 'GET / HTTP/2.0\r\n\r\n' >"$out/http/http2"
