#!/usr/bin/env bash
# The browser package's tests, in Chromium, Firefox and WebKit (each installed when
# missing: Debian's chromium + chromium-driver, firefox-esr + geckodriver from
# crates.io, webkit2gtk-driver + xvfb; see scripts/lib.sh):
#   1. wasm-bindgen-test: every crypto-core vector file through the wasm bindings,
#      positive vectors re-encrypted to the same bytes, WebCrypto == wasm AES-GCM
#      (wasm-bindgen-test-runner: CHROMEDRIVER, GECKODRIVER, and SAFARIDRIVER set to
#      WebKitGTK's WebKitWebDriver under Xvfb, which opens its MiniBrowser);
#   2. tests/browser: the npm package's public API (streams on both engines,
#      vectors, random access, keyrings, errors, fallback), interop both ways with
#      the native `cipherdrop encrypt/decrypt`, and the high-level client against a
#      real `cipherdrop serve` (local mode) with injected part failures — through
#      tests/lib/browser.mjs (classic W3C WebDriver) in each engine;
#   3. tests/npm-consumer: a fresh Vite app installs the packed tarball,
#      type-checks, builds once, and encrypts/decrypts in each engine.
#
#   scripts/test-browser.sh                      # every engine of CIPHERDROP_BROWSERS
#   scripts/test-browser.sh --browser firefox    # one engine
#   CIPHERDROP_BROWSERS=chromium,webkit scripts/test-browser.sh
# CIPHERDROP_BROWSERS defaults to chromium,firefox,webkit. Prints the time per engine.
# Takes about 6 minutes on 2 cores from a warm target directory (all three engines).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --browser) ONLY="${2:?--browser needs chromium, firefox or webkit}"; shift 2 ;;
    --browser=*) ONLY="${1#--browser=}"; shift ;;
    *) echo "usage: scripts/test-browser.sh [--browser chromium|firefox|webkit]" >&2; exit 2 ;;
  esac
done
select_browsers "$ONLY"
ensure_browsers $BROWSERS
export CHROMIUM="${CHROMIUM:-$(command -v chromium || true)}"

declare -A SPENT=()
FAILED=()
# timed ENGINE COMMAND...: runs it, adds its seconds to ENGINE's total; a failure is
# recorded (the other engines still run) and fails the script at the end.
timed() {
  local engine="$1" t0=$SECONDS; shift
  "$@" || FAILED+=("$engine: $*")
  SPENT[$engine]=$(( ${SPENT[$engine]:-0} + SECONDS - t0 ))
}

say "building the npm package (scripts/build-wasm.sh --pack)"
"$ROOT/scripts/build-wasm.sh" --pack
TARBALL="$(ls "$ROOT"/wasm/pkg/cipherdrop-*.tgz)"

# wasm-bindgen-test-runner picks the driver from these variables (one at a time).
wasm_tests() {
  local engine="$1"
  say "wasm-bindgen-test in $engine"
  case "$engine" in
    chromium) (cd "$ROOT/wasm" && CHROMEDRIVER="$(command -v chromedriver)" cargo test --target wasm32-unknown-unknown --locked) ;;
    firefox) (cd "$ROOT/wasm" && GECKODRIVER="$(command -v geckodriver)" cargo test --target wasm32-unknown-unknown --locked) ;;
    # The runner sends Safari empty capabilities (it reads no webdriver.json for
    # Safari): WebKitWebDriver then starts its default browser, MiniBrowser.
    webkit) (cd "$ROOT/wasm" && SAFARIDRIVER="$(command -v WebKitWebDriver)" xvfb-run -a cargo test --target wasm32-unknown-unknown --locked) ;;
  esac
}
for engine in $BROWSERS; do timed "$engine" wasm_tests "$engine"; done

say "building the cipherdrop binary (interop and client tests)"
(cd "$ROOT" && cargo build -p cipherdrop-server --bin cipherdrop --locked)
export CIPHERDROP_BIN="$CARGO_TARGET_DIR/debug/cipherdrop"

cd "$ROOT/tests/browser"
npm ci --no-audit --no-fund --loglevel=error
for engine in $BROWSERS; do
  say "package, interop and client tests (tests/browser) in $engine"
  timed "$engine" env CIPHERDROP_BROWSER="$engine" "${NODE_TEST[@]}" ./*.test.mjs
done

say "npm consumer: a Vite app installing $(basename "$TARBALL")"
cd "$ROOT/tests/npm-consumer"
npm ci --no-audit --no-fund --loglevel=error
npm install --no-save --no-audit --no-fund --loglevel=error "$TARBALL"
npx tsc --noEmit
npx vite build --logLevel warn
for engine in $BROWSERS; do
  timed "$engine" env CIPHERDROP_BROWSER="$engine" node --experimental-websocket run.mjs
done

say "browser package tests: seconds per engine (wasm-bindgen-test + tests/browser + npm consumer):"
for engine in $BROWSERS; do printf '    %-9s %4d s\n' "$engine" "${SPENT[$engine]}" >&2; done
# Failures are reported (and fail the script) at its very end, after the blocks below.
report_failures() {
  local rc=$?
  if [ ${#FAILED[@]} -gt 0 ]; then
    for f in "${FAILED[@]}"; do echo "FAILED: $f" >&2; done
    exit 1
  fi
  exit $rc
}
trap report_failures EXIT

# --- node package test ---
# tests/node: the package in Node (20+) with no bundler, imported as 'cipherdrop'
# from the packed tarball: interop with the CLI both ways, the vector files, and
# CipherDropClient against `cipherdrop serve`. tests/node/run.sh packs the package
# and builds the binary itself when TARBALL / CIPHERDROP_BIN are not set above.
printf '\n==> %s\n' "the package in Node (tests/node)" >&2
CIPHERDROP_TARBALL="${TARBALL:-}" "${ROOT:?}/tests/node/run.sh"
# --- end node package test ---
