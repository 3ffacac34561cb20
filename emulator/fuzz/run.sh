#!/usr/bin/env bash
# Runs the cargo-fuzz targets one after another, each for a set time (docs/fuzzing.md).
#
#   bash emulator/fuzz/run.sh                                      every target, 600 s each
#   FUZZ_SECONDS=60 bash emulator/fuzz/run.sh sigv4_header config_file
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Corpora grow in corpus/<target> (seeded
# from seeds/<target>), crashes land in artifacts/<target>, logs in logs/<target>.log; all but seeds/ are
# gitignored. Runs at nice 19: it shares the machine.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${FUZZ_SECONDS:-600}"
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(json_request query_request xml_round_trip sigv4_header config_file)
mkdir -p logs
nice -n 19 cargo +nightly fuzz build
status=0
for target in "${TARGETS[@]}"; do
  mkdir -p "corpus/$target"
  echo "== fuzz $target for ${SECONDS_EACH}s ($(date -u +%H:%M:%S))"
  if ! nice -n 19 cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
    >"logs/$target.log" 2>&1; then
    echo "!! $target found a crash: see logs/$target.log and artifacts/$target/"
    status=1
  fi
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "logs/$target.log" || true
  echo "corpus/$target: $(find "corpus/$target" -type f | wc -l) inputs, $(du -sk "corpus/$target" | cut -f1) KiB"
done
exit $status
