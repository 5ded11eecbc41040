#!/usr/bin/env bash
# What an encrypted upload costs Chromium, piece by piece (File read in several ways,
# WebCrypto seal, Blob or Uint8Array body, XHR PUTs to a loopback sink; a plain upload
# of File slices beside them), in CPU seconds per GiB by process and the renderer's
# peak memory: see bench/web/pieces.mjs. No cipherdrop server, no package.
#
#   bench/web/pieces.sh [--mib 1024] [--part-mib 8] [--rounds 2] [--passes a,b,...] [--devtools-network]
#
# Installs Chromium (Debian) and playwright-core (npm ci in bench/peers, only when its
# lockfile changed) when missing. The file (--mib of random bytes) is removed at exit,
# Ctrl-C included. Smallest run: bench/web/pieces.sh --mib 16
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
bench_scratch bench-pieces
ensure_bench_node
node "$ROOT/bench/web/pieces.mjs" "$@"
