# procs.sh: sourced by a bench script that starts servers. Gives it a
# scratch directory $WORK and an array PIDS for the pids it starts
# (PIDS+=("$!")); when the script ends, however it ends, every one of them
# is stopped, by pid, and $WORK removed. stop_pids PID...: stops those now.
WORK="$(mktemp -d)"
PIDS=()
stop_pids() {  # stops the pids given, by pid, and reaps them
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
}
bench_procs_cleanup() {
  stop_pids "${PIDS[@]}"
  rm -rf "$WORK"
}
trap bench_procs_cleanup EXIT INT TERM
