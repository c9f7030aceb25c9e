#!/usr/bin/env bash
# drift_noise.sh: builds bench/drift_noise.c and prints the drift trigger's
# false-alarm and detection rates by --drift-min-rows and --drift-threshold
# (see that file's header). usage: bench/drift_noise.sh [WINDOWS]
set -eu
cd "$(dirname "$0")/.."
make -s build/release/bench/drift_noise
build/release/bench/drift_noise "$@"
