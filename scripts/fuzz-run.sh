#!/bin/sh
# Run each fuzz target for SECONDS on its corpus (build/fuzz/corpus/NAME,
# grown from build/fuzz/seeds/NAME); print its executions and coverage.
# Exit 1 if any target found a crash (its input is left in build/fuzz/).
#   sh scripts/fuzz-run.sh SECONDS NAME...
set -u
cd "$(dirname "$0")/.."
secs=$1
shift
failed=0
for t in "$@"; do
	mkdir -p "build/fuzz/corpus/$t"
	log="build/fuzz/$t.log"
	(cd build/fuzz && ASAN_OPTIONS=detect_leaks=1 \
	    "./fuzz_$t" -max_total_time="$secs" -print_final_stats=1 \
	    -rss_limit_mb=1024 -timeout=10 "corpus/$t" "seeds/$t") >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	echo "fuzz_$t: ${secs}s, ${execs:-?} execs, $cov, corpus $(ls "build/fuzz/corpus/$t" | wc -l)"
	if [ "$rc" -ne 0 ]; then
		echo "fuzz_$t: FAILED (exit $rc); see $log" >&2
		grep -m 5 -E 'ERROR|SUMMARY|crash-|leak-|timeout-' "$log" >&2
		failed=1
	fi
done
exit $failed
