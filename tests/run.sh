#!/usr/bin/env bash
# run.sh: runs every C unit test binary given as arguments, then the Python
# multi-process tests (tests/test_*.py, or the files PY_TESTS names; with
# Debian's interpreter), and prints one closing line
# "tests: N passed, N failed, N skipped". Exit 1 on any failure.
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
passed=0; failed=0; skipped=0; failed_names=()

for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    echo "$out" | grep -E '^(ok|FAIL|skip) ' | sed "s|^|$(basename "$t") |"
    line=$(echo "$out" | grep -E '^[a-z_]+: [0-9]+ passed, [0-9]+ failed$' | tail -1)
    if [ -z "$line" ] || [ $rc -ne 0 ]; then
        echo "$out" | grep -vE '^(ok|skip) ' | tail -40
    fi
    if [ -n "$line" ]; then
        p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
        f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed/\1/')
        passed=$((passed + p)); failed=$((failed + f))
        [ "$f" -gt 0 ] && failed_names+=("$(basename "$t")")
    fi
    if [ $rc -ne 0 ] && { [ -z "$line" ] || [ "${f:-0}" -eq 0 ]; }; then
        failed=$((failed + 1)); failed_names+=("$(basename "$t") (exit $rc)")
    fi
    s=$(echo "$out" | grep -cE '^skip ' || true); skipped=$((skipped + s))
done

shopt -s nullglob
# shellcheck disable=SC2206  # PY_TESTS is a list of paths and globs
py_tests=(${PY_TESTS-tests/test_*.py})
if [ ${#py_tests[@]} -gt 0 ]; then
    report=$(mktemp)
    # Multi-process tests share a 2-core machine with whatever else runs; a
    # test that fails is run once more and the summary counts the rerun, so
    # a flake shows up as "N rerun" and a real failure still fails.
    reruns=()
    "$PYTHON" -c "import pytest_rerunfailures" 2>/dev/null && reruns=(--reruns 1 --reruns-delay 1)
    "$PYTHON" -m pytest -q -p no:cacheprovider -rsR "${reruns[@]}" "${py_tests[@]}" 2>&1 | tee "$report"
    line=$(grep -E '[0-9]+ (passed|failed|skipped)' "$report" | tail -1)
    p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
    f=$(echo "$line" | grep -oE '[0-9]+ (failed|errors?)' | awk '{s+=$1} END {print s+0}')
    s=$(echo "$line" | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+' || echo 0)
    [ -z "$line" ] && f=1
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
    [ "${f:-0}" -gt 0 ] && failed_names+=("pytest")
    rm -f "$report"
fi

[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
