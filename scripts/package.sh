#!/usr/bin/env bash
# Builds every package of one deployment (issue 13) into target/packages/<name>/:
#
#   nhi-bridge_<ver>-1_amd64.deb      Debian/Ubuntu (cargo-deb)
#   nhi-bridge-<ver>-1.x86_64.rpm     Fedora/RHEL (cargo-generate-rpm)
#   nhi-bridge-<ver>-x64.msi          Windows, per machine (cross-built host, wixl)
#   nhi-card-bridge-<ver>-chromium.zip  Chrome Web Store / Edge Add-ons  } store-ready
#   nhi-card-bridge-<ver>-firefox.zip   Firefox Add-ons (AMO)            } deployments only
#   extension-chromium/, extension-firefox/   the unpacked extensions
#   SHA256SUMS
#
#   scripts/package.sh [--deployment FILE] [--out DIR] [--windows-profile release|debug]
#
#   --deployment FILE   the deployment (default deploy/example.json; deploy/README.md)
#   --out DIR           where the artefacts go (default target/packages/<deployment name>)
#   --windows-profile   the Windows host's cargo profile (default release; the test command
#                       uses debug: it only inspects the MSI)
#
# The Linux host is built once, `cargo build --release --locked -p nhi-bridge` with
# NHI_BRIDGE_PACKAGED=1 (no development defaults, bridge/src/config.rs), into its own target
# folder target/package-release: the packaged build differs from the development one only in
# that variable, and sharing target/release would rebuild the bridge every time run.sh and
# this script take turns. The same binary goes into the .deb and the .rpm, and every
# deployment's packages reuse it (only the rendered files differ). Nothing here signs: see
# bridge/README.md ("Signing").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
caller=$PWD
cd "$root"

deployment=deploy/example.json
out=""
windows_profile=release
while [ $# -gt 0 ]; do
  case $1 in
    --deployment) deployment=${2:?--deployment needs a file}; shift 2 ;;
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    --windows-profile)
      windows_profile=${2:?--windows-profile needs release or debug}; shift 2
      case $windows_profile in release | debug) ;; *) echo "package.sh: --windows-profile release|debug" >&2; exit 2 ;; esac ;;
    -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "package.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

# Paths given on the command line are the caller's.
if [ "$caller" != "$root" ]; then
  case $deployment in /*) ;; deploy/example.json) ;; *) deployment=$caller/$deployment ;; esac
  case $out in /* | "") ;; *) out=$caller/$out ;; esac
fi
[ -f "$deployment" ] || { echo "package.sh: no deployment file $deployment" >&2; exit 2; }

# What it needs (cargo-deb, cargo-generate-rpm, wixl, mingw-w64, the Windows target), installed
# idempotently as by the two commands, so this works from a clean clone too.
# shellcheck source=tools.sh
source scripts/tools.sh
for tool in cargo-deb cargo-generate-rpm wixl x86_64-w64-mingw32-gcc sha256sum; do
  command -v "$tool" >/dev/null || {
    echo "package.sh: $tool is missing (scripts/tools.sh installs it)" >&2
    exit 1
  }
done

# Reproducible packages: file times and build dates from the last commit (cargo-deb,
# cargo-generate-rpm and the zips' fixed 1980 dates; wixl stamps its own).
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

say() { printf '\033[1m[package]\033[0m %s\n' "$*" >&2; }
step_started=$SECONDS
step_name=""
timings=()
step_done() {
  if [ -n "$step_name" ]; then
    local took=$((SECONDS - step_started))
    timings+=("$(printf '%-60s %4d s' "$step_name" "$took")")
    say "$step_name: $took s"
  fi
  step_started=$SECONDS
}
step() { step_done; step_name=$*; say "== $*"; }

step "nhi-package (the renderer)"
cargo build --locked -q -p nhi-package
pkg_tool="${CARGO_TARGET_DIR:-$root/target}/debug/nhi-package"
version=$("$pkg_tool" version)
# Also checks the file (nhi_protocol::deployment).
name=$("$pkg_tool" name --deployment "$deployment")
out=${out:-target/packages/$name}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# The fixed folder bridge/Cargo.toml's deb and rpm assets name; rendered anew for each run.
staging="$root/target/package-staging"
release_dir="$root/target/package-release"
say "deployment $deployment ($name), version $version → $out"

step "render: extension, host configuration, manifests, MSI source"
rm -rf "$staging"
"$pkg_tool" extension --deployment "$deployment" --template bridge/extension --out "$out"
"$pkg_tool" host --deployment "$deployment" --staging "$staging" >/dev/null

step "host for Linux (release, packaged)"
CARGO_TARGET_DIR="$release_dir" NHI_BRIDGE_PACKAGED=1 \
  cargo build --release --locked -q -p nhi-bridge --bin nhi-bridge
"$release_dir/release/nhi-bridge" --version | grep -q "packaged build" || {
  echo "package.sh: $release_dir/release/nhi-bridge is not a packaged build" >&2
  exit 1
}

step ".deb (cargo-deb)"
rm -f "$out"/nhi-bridge_*.deb
CARGO_TARGET_DIR="$release_dir" cargo-deb --no-build --locked -q -p nhi-bridge \
  -o "$out/nhi-bridge_${version}-1_amd64.deb"

step ".rpm (cargo-generate-rpm)"
rm -f "$out"/nhi-bridge-*.rpm
cargo-generate-rpm -p bridge --target-dir "$release_dir" --payload-compress gzip \
  -o "$out/nhi-bridge-${version}-1.x86_64.rpm"

step "host for Windows ($windows_profile, packaged, x86_64-pc-windows-gnu)"
profile_flag=()
[ "$windows_profile" = release ] && profile_flag=(--release)
CARGO_TARGET_DIR="$release_dir" NHI_BRIDGE_PACKAGED=1 \
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
  cargo build --locked -q "${profile_flag[@]}" -p nhi-bridge --bin nhi-bridge \
  --target x86_64-pc-windows-gnu
cp "$release_dir/x86_64-pc-windows-gnu/$windows_profile/nhi-bridge.exe" "$staging/windows/"

step ".msi (wixl)"
msi="$out/nhi-bridge-${version}-x64.msi"
rm -f "$out"/nhi-bridge-*-x64.msi
# wixl warns about GObject properties it does not know; errors still fail the step.
(cd "$staging/windows" && wixl -a x64 -o "$msi" nhi-bridge.wxs 2> >(grep -v 'GLib-GObject-WARNING\|^$' >&2))

step "SHA256SUMS"
(
  cd "$out"
  rm -f SHA256SUMS
  # Listed before SHA256SUMS exists (the redirection would create it first).
  files=$(find . -maxdepth 1 -type f -printf '%f\n' | LC_ALL=C sort)
  # shellcheck disable=SC2086 # artefact names have no spaces
  sha256sum $files >SHA256SUMS
)
step_done

say "artefacts in $out:"
(cd "$out" && find . -maxdepth 1 -type f -printf '%f\t%s\n' | LC_ALL=C sort |
  awk -F'\t' '{ printf "  %-44s %10d bytes  %8.1f KiB\n", $1, $2, $2 / 1024 }') >&2
say "step times:"
printf '  %s\n' "${timings[@]}" >&2
say "total: $SECONDS s"
