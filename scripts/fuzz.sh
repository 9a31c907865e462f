#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a short time (default 10s each).
# Targets are found by name (func FuzzXxx); the corpus in testdata/fuzz/ is
# always replayed by `go test`, this adds new random inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-10s}
status=0
while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/.*func (Fuzz[A-Za-z0-9_]+).*/\1/' <<<"$line")
  pkg=./$(dirname "$file")
  echo "== $pkg $name ($fuzztime)"
  go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" || status=1
done < <(git grep -n -E '^func Fuzz[A-Za-z0-9_]+\(' -- '*_test.go' ':!pkg/gen')
exit $status
