#!/usr/bin/env bash
# certfs' performance benchmark: builds release, mounts certfs in temporary
# folders and prints, per figure of docs/performance.md, certfs' value, the
# baseline measured in the same run, their ratio, the goal and PASS/MISS.
#
#   scripts/bench.sh                      # full counts (a few minutes on 2 cores)
#   BENCH_SCALE=smoke scripts/bench.sh    # tiny counts: checks the harness works
#   BENCH_SCALE=0.1 scripts/bench.sh      # a tenth of the full counts
#   BENCH_ONLY=read,tree scripts/bench.sh # some figures only
#                                         # (read tree create import store latency)
# BENCH_DIR (default: the temp dir) holds the stores; BENCH_TMPFS (default
# /dev/shm) the baselines' copies. Needs fuse3 and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in fusermount3 openssl ls; do
  command -v "$tool" >/dev/null || { echo "bench.sh: $tool is missing" >&2; exit 1; }
done
cargo build --release --quiet --bin certfs
cargo bench --quiet --bench bench
