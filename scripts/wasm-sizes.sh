#!/usr/bin/env bash
# Where the bytes of the first page go: builds the citizen bundle's wasm as Trunk does
# (profile wasm-release, before wasm-bindgen and wasm-opt strip the names) and runs twiggy on
# it; then prints the gzip -9 sizes the budget test (tests/tests/citizen.rs) counts, if dist/
# is built. Usage: bash scripts/wasm-sizes.sh [FEATURE] (units / online for the other areas).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=tools.sh
source scripts/tools.sh
tools_twiggy
features=()
[ $# -gt 0 ] && features=(--features "$1")
cargo build --quiet -p nhi-app --bin nhi-app --profile wasm-release \
  --target wasm32-unknown-unknown "${features[@]}"
wasm=target/wasm32-unknown-unknown/wasm-release/nhi-app.wasm
twiggy=$NHI_TOOLS/twiggy/bin/twiggy
"$twiggy" top -n 40 "$wasm"
"$twiggy" dominators -d 3 -r 60 "$wasm"
dist=${NHI_DIST_DIR:-$root/dist}
if [ -d "$dist" ]; then
  total=0
  for f in "$dist"/*.js "$dist"/*.wasm; do
    case $(basename "$f") in nhi-strength*) continue ;; esac
    size=$(gzip -9c "$f" | wc -c)
    total=$((total + size))
    printf '%8d  %s\n' "$size" "$(basename "$f")"
  done
  printf '%8d  initial JS + wasm, gzip -9 (budget: 260000)\n' "$total"
fi
