#!/usr/bin/env bash
# Upload pipeline benchmark (issue 6 item 2): the same file uploaded to a local-mode
# `cipherdrop serve` through CipherDropClient (encrypted) and as a plain presigned
# multipart upload (same API calls, part size, concurrency), alternating, in headless
# Chromium. Prints JSON with both times, the ratio (goal <= 1.10) and throughput.
#
#   bench/peers/upload.sh [--mib 1024] [--runs 3] [--part-mib 16] [--concurrency 4]
#                         [--diagnose | --diagnose=bytes] [--devtools-network]
#
# Builds or installs what is missing and nothing else: Chromium, the package, the
# release `cipherdrop` (set CIPHERDROP_BIN to use another build), playwright-core.
# The file (--mib of random bytes) and the server's data directory live in a scratch
# directory removed at exit, Ctrl-C included. Needs about 2x --mib free in /tmp.
# Smallest run: bench/peers/upload.sh --mib 32 --runs 1 --part-mib 8
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
bench_scratch bench-upload
ensure_bench_node
ensure_wasm_pkg
ensure_cipherdrop
node "$ROOT/bench/peers/upload.mjs" "$@"
