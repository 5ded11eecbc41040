#!/usr/bin/env bash
# Builds the browser package: cipherdrop-wasm for wasm32-unknown-unknown, the
# wasm-bindgen glue (exactly 0.2.130, the crate's pinned version) and the
# hand-written ESM layer in wasm/js/, assembled into wasm/pkg/ (the npm package
# `cipherdrop`). Installs the wasm target and wasm-bindgen-cli when missing;
# does nothing extra when they are present. Run `npm pack` in wasm/pkg/ for a tarball.
#
#   scripts/build-wasm.sh            # release build into wasm/pkg/
#   scripts/build-wasm.sh --pack     # also writes wasm/pkg/cipherdrop-<version>.tgz
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WASM_BINDGEN_VERSION=0.2.130
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/cipherdrop-target}"
export PATH="$HOME/.cargo/bin:$PATH"
PKG="$ROOT/wasm/pkg"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "build-wasm: installing the wasm32-unknown-unknown target" >&2
  rustup target add wasm32-unknown-unknown
fi
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  echo "build-wasm: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes)" >&2
  # Not --locked: its lockfile names a crate version the registry lacks (TOOLING.md).
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

cd "$ROOT"
cargo build -p cipherdrop-wasm --target wasm32-unknown-unknown --release
rm -rf "$PKG"
mkdir -p "$PKG"
wasm-bindgen --target web --out-dir "$PKG" --out-name cipherdrop_wasm \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/cipherdrop_wasm.wasm"
# wasm-bindgen's own package.json is not the package's; ours is wasm/package.json.
rm -f "$PKG/package.json" "$PKG/.gitignore"
cp "$ROOT"/wasm/js/*.js "$ROOT"/wasm/js/*.d.ts "$PKG/"
cp "$ROOT/wasm/README.md" "$PKG/README.md"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)"
sed "s/\"version\": \"0.0.0-workspace\"/\"version\": \"$VERSION\"/" "$ROOT/wasm/package.json" > "$PKG/package.json"

if [ "${1:-}" = "--pack" ]; then
  (cd "$PKG" && npm pack --silent >/dev/null)
  echo "build-wasm: $(ls "$PKG"/cipherdrop-*.tgz)"
fi
echo "build-wasm: package in $PKG ($(du -k "$PKG/cipherdrop_wasm_bg.wasm" | cut -f1) KiB of wasm)"
