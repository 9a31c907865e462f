#!/usr/bin/env bash
# buf breaking against the previous commit, when that commit has protos.
set -euo pipefail
cd "$(dirname "$0")/.."
buf=tools/node_modules/.bin/buf
if ! git rev-parse -q --verify HEAD~1 >/dev/null; then
  echo "buf breaking: no previous commit; skipped"; exit 0
fi
if ! git cat-file -e HEAD~1:buf.yaml 2>/dev/null; then
  echo "buf breaking: the previous commit has no buf.yaml; skipped"; exit 0
fi
"$buf" breaking --against ".git#ref=HEAD~1"
echo "buf breaking: no breaking change against HEAD~1"
