#!/bin/bash
# Runs vitest projects in groups: the suites of one group run side by side
# (each has its own apps, roots and domains), groups one after the other.
# Each suite's whole output is printed when it ends, with its time; the exit
# code is non-zero when any suite failed.
#
#   scripts/run-suites.sh integration -- e2e reliability browser -- restarts
set -u
cd "$(dirname "$0")/.."
logs=test-artifacts/logs
mkdir -p "$logs"
failed=""

run_group() {
  local s
  for s in "$@"; do
    (
      start=$(date +%s)
      # The services lock: suites share it; restarts, which stops services, holds it alone.
      mode=-s; [ "$s" = restarts ] && mode=-x
      flock "$mode" /tmp/depl-services.lock npx vitest run --project "$s" >"$logs/$s.log" 2>&1
      echo "$? $(( $(date +%s) - start ))" >"$logs/$s.rc"
    ) &
  done
  wait
  for s in "$@"; do
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
