#!/usr/bin/env bash
# certfs' performance benchmark (docs/performance.md): builds release, mounts
# certfs in temporary folders and prints, per figure, certfs' value, the
# baseline measured in the same run on the same machine, their ratio, the
# goal and PASS/MISS. It never fails on a MISS: only a broken harness fails.
#
#   scripts/bench.sh                      # full counts (a few minutes on 2 cores)
#   BENCH_SCALE=smoke scripts/bench.sh    # tiny counts, test-profile build: checks the harness works
#   BENCH_SCALE=0.1 scripts/bench.sh      # a tenth of the full counts
#   BENCH_ONLY=read,tree scripts/bench.sh # some figures only
#                                         # (read tree create import store history latency servers)
#   BENCH_THREADS=2 scripts/bench.sh      # certfs --threads 2
# BENCH_DIR (default: the temp dir) holds the stores; BENCH_TMPFS (default
# /dev/shm) the baselines' copies; BENCH_KEEP=1 leaves both behind (to
# profile the daemon against a figure's store). Needs fuse3, openssl, ls and
# python3 with its cryptography package.
# The table goes, as Markdown, to BENCH_REPORT: by default
# docs/bench/latest.md for a full run of every figure (docs/performance.md
# quotes it), target/bench/latest.md for any other run.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in fusermount3 openssl ls python3; do
  command -v "$tool" >/dev/null || { echo "bench.sh: $tool is missing" >&2; exit 1; }
done
if [ -z "${BENCH_REPORT:-}" ]; then
  if [ "${BENCH_SCALE:-full}" = full ] && [ -z "${BENCH_ONLY:-}" ]; then
    BENCH_REPORT=docs/bench/latest.md
  else
    BENCH_REPORT=${CARGO_TARGET_DIR:-target}/bench/latest.md
  fi
fi
case "$BENCH_REPORT" in /*) ;; *) BENCH_REPORT="$PWD/$BENCH_REPORT" ;; esac
export BENCH_REPORT
if [ "${BENCH_SCALE:-full}" = smoke ]; then
  # Timings of a debug build mean nothing, and the smoke run asserts none:
  # it reuses the build scripts/test.sh made.
  cargo test --quiet --bench bench -- --bench
else
  cargo build --release --quiet --bin certfs
  cargo bench --quiet --bench bench
fi
