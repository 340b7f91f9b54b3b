# Helpers shared by the shell tests (tests/*/test_*.sh). Each script starts
#     set -u
#     . "$(dirname "$0")/../lib.sh" || exit 1
# and ends with `finish`. Reports as tests/run.sh counts them: one
# "ok - NAME" / "FAIL - NAME" line per check, then "RESULT <passed> <failed>".
#
# Sourcing it sets:
#   repo      the repository root, which becomes the current directory (so a
#             script runs the same from anywhere)
#   bin       the yolov5c binary as an absolute path (YV5_BIN picks it;
#             relative to the repository root)
#   test_dir  the compiled tests (YV5_TEST_DIR, exported by tests/run.sh)
#   tmp       a scratch directory, removed when the script exits
#   passed, failed  the counts `finish` reports

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
bin=${YV5_BIN:-./yolov5c}
case $bin in /*) ;; *) bin=$repo/${bin#./} ;; esac
test_dir=${YV5_TEST_DIR:-build/tests}
passed=0
failed=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1"; failed=$((failed + 1)); }
# report NAME STATUS: ok when STATUS is 0.
report() { if [ "$2" -eq 0 ]; then ok "$1"; else fail "$1"; fi; }

# Prints the RESULT line and exits, with status 1 when any check failed.
finish() {
    echo "RESULT $passed $failed"
    [ "$failed" -eq 0 ]
    exit
}

if ! tmp=$(mktemp -d "${TMPDIR:-/tmp}/yv5_$(basename "$0" .sh)_XXXXXX"); then
    fail "cannot create a scratch directory under ${TMPDIR:-/tmp}"
    finish
fi
trap 'rm -rf "$tmp"' EXIT

# require_bin: stops the script (one failure) when the binary is not built.
require_bin() {
    [ -x "$bin" ] && return 0
    fail "binary $bin not found (build it with make)"
    finish
}

# registered COMMAND: the binary has the subcommand (each is added to
# src/cli/main.c by its owner; its in-process test covers it until then).
registered() { "$bin" "$1" --help >/dev/null 2>&1; }

# require_command COMMAND: require_bin, then, when the binary lacks COMMAND,
# checks only that the binary runs and stops the script.
require_command() {
    require_bin
    registered "$1" && return 0
    check "yolov5c runs ($1 command not registered yet: CLI checks skipped)" '"$bin" --help >/dev/null'
    finish
}

# run COMMAND...: runs it with stdout in $tmp/out, stderr in $tmp/err and
# the exit status in $rc.
run() {
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

# Tails of what the last command printed, for a failed check: $out when the
# script keeps output in that variable, else the files `run` writes.
show_output() {
    echo "    rc=${rc:-?}"
    if [ -n "${out:-}" ]; then
        echo "    output:"
        printf '%s\n' "$out" | tail -n 12 | sed 's/^/    | /'
    fi
    if [ -f "$tmp/out" ]; then
        echo "    stdout:"
        tail -n 8 "$tmp/out" | sed 's/^/    | /'
    fi
    if [ -f "$tmp/err" ]; then
        echo "    stderr:"
        tail -n 8 "$tmp/err" | sed 's/^/    | /'
    fi
}

# check NAME CONDITION...: ok when CONDITION succeeds. CONDITION is a command
# and its arguments, or a single string of shell code (evaluated).
check() {
    local check_name=$1
    shift
    local status
    if [ $# -eq 1 ]; then
        eval "$1"
    else
        "$@"
    fi
    status=$?
    report "$check_name" "$status"
    [ "$status" -eq 0 ] || show_output
}

# has TEXT FILE: FILE contains TEXT; has_line LINE FILE: FILE has exactly LINE.
has() { grep -qF -- "$1" "$2"; }
has_line() { grep -qxF -- "$1" "$2"; }

# check_test_binary NAME [VAR=VALUE...] BINARY: runs a compiled test with the
# given environment; ok when it passes, else its failure lines are shown.
check_test_binary() {
    local check_name=$1
    shift
    local binary=${!#}
    if [ ! -x "$binary" ]; then
        fail "$check_name: $binary not built"
        return
    fi
    if env "$@" >"$tmp/$check_name.log" 2>&1; then
        ok "$check_name"
    else
        grep -E 'FAIL|check failed|differ' "$tmp/$check_name.log" | head -20
        fail "$check_name"
    fi
}
