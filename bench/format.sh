#!/usr/bin/env bash
# crypto-core's format benchmark (crypto-core/benches/format.rs): the chunk and stream
# APIs against raw AES-256-GCM on a 64 MiB buffer, 16 KiB .. 1 MiB chunks; prints the
# ratio table (best of 7 rounds). Builds into the shared CARGO_TARGET_DIR
# (~/.cache/cipherdrop-target, as scripts/lib.sh sets it), writes no files of its own.
#
#   bench/format.sh            # the ratio table only (about a minute once built)
#   bench/format.sh --criterion  # criterion's statistics first, then the table (minutes)
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
cd "$ROOT"
if [ "${1:-}" = --criterion ]; then
  cargo bench --locked -p cipherdrop-core --bench format
else
  # A criterion filter that matches nothing: only the table.
  cargo bench --locked -p cipherdrop-core --bench format -- none
fi
