#!/usr/bin/env bash
# Builds the SPA with Trunk into dist/ (release profile tuned for size, wasm-opt 132), offline:
# Trunk uses only the tools scripts/tools.sh installed, never a download.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=tools.sh
source scripts/tools.sh
cargo fetch --quiet
# One build at a time: two Trunk runs in one tree collide on dist/.stage.
mkdir -p "$root/target"
exec 8>"$root/target/.build-app.lock"
flock 8
trunk build --release --skip-version-check --config Trunk.toml "$@"
