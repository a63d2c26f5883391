#!/bin/sh
# Builds the server and the command line into dist/server (`npm run build:server`, and before every
# `npm start`, so a source edit is always in what runs): one esbuild bundle of src/cli/main.ts, each
# command a chunk loaded only when it runs, packages left to node_modules, with source maps. It takes
# about 0.05 s (the JS API 0.3 s, `tsc` 9 s, 3.5 s incremental); `npm run typecheck` checks types.
#
# The bundle and its chunks sit two levels under the root (dist/server/), as the sources do (src/api/),
# so a path a module resolves from `import.meta.url`, such as `../../dist/console/`, means the same in
# both.
set -e
cd "$(dirname "$0")/.."
# Chunk names carry a hash: without the clean-up every edit would leave the old chunks behind.
rm -rf dist/server
exec node_modules/.bin/esbuild src/cli/main.ts --bundle --splitting --format=esm --platform=node --target=node20.19 \
  --packages=external --sourcemap --outdir=dist/server --entry-names=sequencer --chunk-names='[name]-[hash]' \
  --log-level=warning
