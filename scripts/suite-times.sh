#!/usr/bin/env bash
# Wall time of each test suite in a `cargo test` log (cargo's "Running
# tests/x.rs" line, then the suite's "test result: ... finished in Ns"),
# slowest first. A suite run twice (the PostgreSQL pass) shows twice.
#   scripts/suite-times.sh target/ci-tests.log
set -euo pipefail
awk '
  /^ *Running / { suite = ($2 == "unittests") ? $3 : $2 }
  /^test result: / && suite != "" {
    for (i = 1; i <= NF; i++) if ($i == "in") { t = $(i + 1); sub(/s$/, "", t) }
    printf "%8.1fs %s\n", t, suite
    suite = ""
  }
' "$1" | sort -rn
