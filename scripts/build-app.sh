#!/usr/bin/env bash
# Builds the SPA with Trunk into dist/ (release profile tuned for size, wasm-opt 132), offline
# (NHI_DIST_DIR overrides the folder):
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
# The SPA areas (nhi_protocol::areas), each its own bundle: the citizen area into the dist
# folder itself (first, since Trunk replaces that folder), the others into sub-folders.
dist=${NHI_DIST_DIR:-$root/dist}
build() { trunk build --release --skip-version-check --config Trunk.toml "$@"; }
build --dist "$dist" app/index.html
build --dist "$dist/units" --public-url /units/ app/units.html
build --dist "$dist/online" --public-url /online/ app/online.html
