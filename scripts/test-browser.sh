#!/usr/bin/env bash
# The browser package's tests, all in headless Chromium (Debian's chromium +
# chromium-driver, installed when missing):
#   1. wasm-bindgen-test: every crypto-core vector file through the wasm bindings,
#      positive vectors re-encrypted to the same bytes, WebCrypto == wasm AES-GCM;
#   2. tests/browser: the npm package's public API (streams on both engines,
#      vectors, random access, keyrings, errors, fallback), interop both ways with
#      the native `cipherdrop encrypt/decrypt`, and the high-level client against a
#      real `cipherdrop serve` (local mode) with an injected part failure;
#   3. tests/npm-consumer: a fresh Vite app installs the packed tarball,
#      type-checks, builds, and encrypts/decrypts in Chromium.
# Takes about 5 minutes on 2 cores from a warm target directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/cipherdrop-target}"
say() { printf '\n==> %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  say "installing chromium and chromium-driver (Debian packages)"
  as_root apt-get install -y chromium chromium-driver ||
    { as_root apt-get update && as_root apt-get install -y chromium chromium-driver; }
fi
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"

say "building the npm package (scripts/build-wasm.sh --pack)"
"$ROOT/scripts/build-wasm.sh" --pack
TARBALL="$(ls "$ROOT"/wasm/pkg/cipherdrop-*.tgz)"

say "wasm-bindgen-test in headless Chromium"
(cd "$ROOT/wasm" && cargo test --target wasm32-unknown-unknown --locked)

say "building the cipherdrop binary (interop and client tests)"
(cd "$ROOT" && cargo build -p cipherdrop-server --bin cipherdrop --locked)
export CIPHERDROP_BIN="$CARGO_TARGET_DIR/debug/cipherdrop"

say "package, interop and client tests (tests/browser)"
cd "$ROOT/tests/browser"
npm ci --no-audit --no-fund --loglevel=error
node --test --test-concurrency=1 ./*.test.mjs

say "npm consumer: a Vite app installing $(basename "$TARBALL")"
cd "$ROOT/tests/npm-consumer"
npm ci --no-audit --no-fund --loglevel=error
npm install --no-save --no-audit --no-fund --loglevel=error "$TARBALL"
npx tsc --noEmit
npx vite build --logLevel warn
node run.mjs

# --- node package test ---
# tests/node: the package in Node (20+) with no bundler, imported as 'cipherdrop'
# from the packed tarball: interop with the CLI both ways, the vector files, and
# CipherDropClient against `cipherdrop serve`. tests/node/run.sh packs the package
# and builds the binary itself when TARBALL / CIPHERDROP_BIN are not set above.
printf '\n==> %s\n' "the package in Node (tests/node)" >&2
CIPHERDROP_TARBALL="${TARBALL:-}" "${ROOT:?}/tests/node/run.sh"
# --- end node package test ---
