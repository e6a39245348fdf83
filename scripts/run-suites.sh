#!/bin/bash
# Runs the test suites' npm scripts in groups: the suites of one group run side
# by side (each has its own apps, roots and domains), groups one after the
# other. Each argument is a suite's command, `npm run test:<suite>`; its whole
# output is printed when it ends, with its time; the exit code is non-zero when
# any suite failed.
#
#   scripts/run-suites.sh "npm run test:integration" -- "npm run test:e2e" "npm run test:browser" -- "npm run test:restarts"
set -u
cd "$(dirname "$0")/.."
logs=test-artifacts/logs
mkdir -p "$logs"
failed=""

suite_of() {
  case "$1" in
    "npm run test:"*) echo "${1#npm run test:}" ;;
    *) echo "run-suites: expected \"npm run test:<suite>\", got \"$1\"" >&2; exit 2 ;;
  esac
}

run_group() {
  local cmd s
  for cmd in "$@"; do suite_of "$cmd" >/dev/null || exit 2; done
  for cmd in "$@"; do
    s=$(suite_of "$cmd")
    (
      start=$(date +%s)
      # The services lock: suites share it; restarts, which stops services, holds it alone.
      mode=-s; [ "$s" = restarts ] && mode=-x
      flock "$mode" /tmp/depl-services.lock $cmd >"$logs/$s.log" 2>&1
      echo "$? $(( $(date +%s) - start ))" >"$logs/$s.rc"
    ) &
  done
  wait
  for cmd in "$@"; do
    s=$(suite_of "$cmd")
    read -r rc secs <"$logs/$s.rc"
    echo "=== suite $s: exit $rc in ${secs}s"
    cat "$logs/$s.log"
    [ "$rc" = 0 ] || failed="$failed $s"
  done
}

group=()
for arg in "$@" --; do
  if [ "$arg" = "--" ]; then
    [ ${#group[@]} -gt 0 ] && run_group "${group[@]}"
    group=()
  else
    group+=("$arg")
  fi
done
if [ -n "$failed" ]; then
  # Repeated at the very end, so that the tail of a long CI log names what failed and why.
  for s in $failed; do
    echo "=== failures in $s:"
    sed 's/\x1b\[[0-9;]*m//g' "$logs/$s.log" | grep -E -A12 '^ *(FAIL|×|✗) |AssertionError|Error:' | head -80
  done
  echo "=== failed suites:$failed"
  exit 1
fi
