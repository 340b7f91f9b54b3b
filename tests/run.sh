#!/usr/bin/env bash
# Runs every test binary under the given directory (default build/tests) from the
# repository root, adds up their RESULT lines and ends with "N passed, N failed".
# A binary that crashes, times out or prints no RESULT counts as one failure.
set -u
dir=${1:-build/tests}
# Test scripts find the compiled tests (and the build they belong to) here.
export YV5_TEST_DIR="$dir"
per_test_timeout=${TEST_TIMEOUT:-300}
passed=0
failed=0
# Compiled tests, plus executable test scripts (tests/**/test_*.sh) that print
# the same "RESULT <passed> <failed>" line.
bins=$( (find "$dir" -type f -name 'test_*' -perm -u+x; find tests -type f -name 'test_*.sh' -perm -u+x) | sort)
if [ -z "$bins" ]; then
    echo "no test binaries under $dir" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
for bin in $bins; do
    echo "== $bin"
    out=$(timeout "$per_test_timeout" "$bin" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    result=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -n 1)
    if [ -z "$result" ]; then
        echo "FAIL - $bin exited with status $rc before reporting (crash or timeout)"
        failed=$((failed + 1))
        continue
    fi
    set -- $result
    passed=$((passed + $2))
    failed=$((failed + $3))
    if [ "$rc" -ne 0 ] && [ "$3" -eq 0 ]; then
        echo "FAIL - $bin exited with status $rc"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
