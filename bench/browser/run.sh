#!/usr/bin/env bash
# Browser benchmark in headless Chromium (prints JSON): raw WebCrypto AES-256-GCM at
# 16K/64K/256K/1M chunks, the wasm AES-GCM, the package's EncryptStream /
# DecryptStream fed from memory (64/256 MiB; also paired with raw WebCrypto run by
# run, with Chromium's CPU seconds per step) and end to end from a 256 MiB File, and
# the File read alone (file.stream() and slice().arrayBuffer() with 1-4 in flight).
#
#   bench/browser/run.sh [--stream-mib 256] [--runs 3] [--raw-mib 64] [--memory-mib 64,256]
#                        [--in-flight 4,8] [--parts raw,wasm,memory,paired,file,slices]
#                        [--devtools-network]
#
# Builds or installs what is missing and nothing else: Chromium (Debian), the package
# (scripts/build-wasm.sh), the release `cipherdrop` (for the ciphertext file; set
# CIPHERDROP_BIN to use another build), playwright-core (npm ci in bench/peers, only
# when its lockfile changed). The files it writes (stream-mib of plaintext and its
# ciphertext) live in a scratch directory removed at exit, Ctrl-C included.
# Smallest run (about a minute): bench/browser/run.sh --stream-mib 8 --runs 1 --raw-mib 8 --memory-mib 8
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
bench_scratch bench-browser
ensure_bench_node
ensure_wasm_pkg
ensure_cipherdrop
node "$ROOT/bench/browser/run.mjs" "$@"
