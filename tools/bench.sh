#!/bin/sh
# tools/bench.sh: make bench. The measurements live in bench/run.sh (bash);
# see its head for the knobs (BENCH_TIME, ...). Writes bench/results.md.
exec bash "$(dirname "$0")/../bench/run.sh" "$@"
