# shellcheck shell=bash
# Installs, idempotently, everything building and testing the project needs, then puts the
# tools on PATH. Sourced by scripts/run.sh and scripts/test.sh; safe to run again and again.
#
#   NHI_TOOLS   where cargo-installed tools are cached (default /opt/nhi-tools)
#   NHI_SKIP_APT=1  do not touch Debian packages (e.g. a machine set up by other means)
#
# Nothing is downloaded from GitHub: Trunk and wasm-bindgen-cli come from crates.io, wasm-opt
# from npm (binaryen@132; Debian's binaryen 108 produces wasm that fails at run time), and
# axe-core from npm for the accessibility checks of the end-to-end suite.

TRUNK_VERSION=0.21.14
# Must equal the `wasm-bindgen = "=…"` pin in Cargo.toml (checked below).
WASM_BINDGEN_VERSION=0.2.130
BINARYEN_VERSION=132.0.0
AXE_CORE_VERSION=4.14.1
# twiggy (wasm size profiler) for scripts/wasm-sizes.sh only; not part of the test command.
TWIGGY_VERSION=0.8.0
# Issue 13: geckodriver drives Firefox ESR in the end-to-end suite; cargo-deb and
# cargo-generate-rpm build the bridge's Linux packages (scripts/package.sh).
GECKODRIVER_VERSION=0.37.1
CARGO_DEB_VERSION=3.8.0
CARGO_GENERATE_RPM_VERSION=0.21.1
NHI_TOOLS=${NHI_TOOLS:-/opt/nhi-tools}
# Issue 13 (packages, Firefox): firefox-esr for the Firefox end-to-end suite; mingw-w64 to
# cross-link the Windows host; msitools + wixl to build and inspect the MSI; rpm to inspect
# the .rpm; zip is not needed (scripts/package.sh zips with the workspace's own tool).
APT_PACKAGES=(pcscd libpcsclite-dev vsmartcard-vpcd pkg-config libssl-dev chromium chromium-driver
  postgresql python3-aiosmtpd fonts-noto-cjk poppler-utils ca-certificates
  firefox-esr gcc-mingw-w64-x86-64 msitools wixl rpm)

tools_say() { printf '\033[1m[tools]\033[0m %s\n' "$*" >&2; }

tools_apt() {
  [ "${NHI_SKIP_APT:-0}" = 1 ] && return 0
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  tools_say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# wasm32 for the SPA; x86_64-pc-windows-gnu for the Windows host that scripts/package.sh
# cross-links with mingw-w64 for the MSI (it also compiles the CredUI PIN dialog).
tools_rust_target() {
  local t installed
  installed=$(rustup target list --installed 2>/dev/null)
  for t in wasm32-unknown-unknown x86_64-pc-windows-gnu; do
    grep -qx "$t" <<<"$installed" && continue
    tools_say "adding the $t target"
    rustup target add "$t"
  done
}

# tools_cargo_install CRATE VERSION BIN [--locked]
tools_cargo_install() {
  local crate=$1 version=$2 bin=$3 locked=${4:-}
  if "$NHI_TOOLS/bin/$bin" --version 2>/dev/null | grep -q " $version\$\| $version "; then
    return 0
  fi
  tools_say "installing $crate $version into $NHI_TOOLS (first time only; minutes)"
  # shellcheck disable=SC2086
  cargo install "$crate" --version "$version" $locked --root "$NHI_TOOLS" --quiet
}

tools_wasm_opt() {
  local dir="$NHI_TOOLS/npm"
  if "$dir/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
    return 0
  fi
  if ! command -v npm >/dev/null; then
    tools_say "npm not found: building without wasm-opt (larger wasm)"
    return 0
  fi
  tools_say "installing binaryen@$BINARYEN_VERSION (wasm-opt) from npm"
  mkdir -p "$dir"
  npm install --silent --no-audit --no-fund --prefix "$dir" "binaryen@$BINARYEN_VERSION" >/dev/null
}

# axe-core, injected by the end-to-end suite to check every page (WCAG 2.1 AA).
tools_axe() {
  local dir="$NHI_TOOLS/npm"
  grep -qs "\"version\": \"$AXE_CORE_VERSION\"" "$dir/node_modules/axe-core/package.json" && return 0
  command -v npm >/dev/null || { tools_say "npm not found: cannot install axe-core"; return 1; }
  tools_say "installing axe-core@$AXE_CORE_VERSION from npm"
  mkdir -p "$dir"
  npm install --silent --no-audit --no-fund --prefix "$dir" "axe-core@$AXE_CORE_VERSION" >/dev/null
}

# twiggy, on demand (scripts/wasm-sizes.sh): where the bytes of the SPA's wasm go. Its own
# root ($NHI_TOOLS/twiggy), so it never shadows the build tools.
tools_twiggy() {
  local root="$NHI_TOOLS/twiggy"
  "$root/bin/twiggy" --version 2>/dev/null | grep -q " $TWIGGY_VERSION\$" && return 0
  tools_say "installing twiggy $TWIGGY_VERSION into $root (first time only; minutes)"
  cargo install twiggy --version "$TWIGGY_VERSION" --locked --root "$root" --quiet
}

tools_check_pin() {
  local root; root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  grep -q "wasm-bindgen = \"=$WASM_BINDGEN_VERSION\"" "$root/Cargo.toml" || {
    tools_say "Cargo.toml's wasm-bindgen pin differs from wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    return 1
  }
}

tools_install() {
  tools_apt &&
    tools_rust_target &&
    tools_check_pin &&
    tools_cargo_install trunk "$TRUNK_VERSION" trunk --locked &&
    tools_cargo_install wasm-bindgen-cli "$WASM_BINDGEN_VERSION" wasm-bindgen &&
    tools_cargo_install geckodriver "$GECKODRIVER_VERSION" geckodriver --locked &&
    tools_cargo_install cargo-deb "$CARGO_DEB_VERSION" cargo-deb --locked &&
    tools_cargo_install cargo-generate-rpm "$CARGO_GENERATE_RPM_VERSION" cargo-generate-rpm --locked &&
    tools_wasm_opt &&
    tools_axe
}

tools_install || { tools_say "installing the tools failed"; return 1 2>/dev/null || exit 1; }
export PATH="$NHI_TOOLS/bin:$NHI_TOOLS/npm/node_modules/.bin:$PATH"
