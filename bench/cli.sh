#!/usr/bin/env bash
# The command line against the I/O ceiling on tmpfs (/dev/shm, so the disk is out of
# the picture): `cat` (an in-kernel copy), `dd bs=1M` (a user-space copy: the fair
# ceiling), `cipherdrop encrypt` / `decrypt` with 1 thread and one per core, and both
# through pipes (the stream API). Prints one line per command and run: wall seconds,
# user and system CPU seconds, peak RSS (GNU time).
#
#   bench/cli.sh [--mib 1024] [--runs 3]
#
# Builds the release `cipherdrop` into the shared CARGO_TARGET_DIR when it is not up to
# date (set CIPHERDROP_BIN to use another build). Needs about 3x --mib free in /dev/shm;
# every file is removed at exit, Ctrl-C included. Smallest run: bench/cli.sh --mib 16 --runs 1
set -euo pipefail
MIB=1024
RUNS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --mib) MIB="${2:?--mib needs a size in MiB}"; shift 2 ;;
    --runs) RUNS="${2:?--runs needs a count}"; shift 2 ;;
    *) echo "usage: $0 [--mib 1024] [--runs 3]" >&2; exit 2 ;;
  esac
done
[[ "$MIB" =~ ^[1-9][0-9]*$ ]] || { echo "--mib $MIB: a whole number of MiB, 1 or more" >&2; exit 2; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "--runs $RUNS: a whole number, 1 or more" >&2; exit 2; }
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
ensure_apt /usr/bin/time time >&2
ensure_cipherdrop
bench_scratch bench-cli
SHM="$(mktemp -d /dev/shm/cipherdrop-bench-cli.XXXXXX)"
trap 'rm -rf "$SHM"; bench_cleanup' EXIT

head -c "$((MIB * 1048576))" /dev/urandom >"$SHM/big.bin"
"$CIPHERDROP_BIN" keygen --output "$SHM/bench.key" >/dev/null 2>&1
key=(--key-file "$SHM/bench.key")
threads="$(nproc)"
echo "bench/cli: $MIB MiB on tmpfs, $RUNS run(s), $threads cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "command | run | wall s | user s | sys s | peak RSS KiB"
measure() { # measure NAME -- command...: the command runs in bash -c (pipes allowed)
  local name="$1" r; shift 2
  for ((r = 1; r <= RUNS; r++)); do
    /usr/bin/time -o "$WORK/time" -f '%e | %U | %S | %M' bash -c "$*"
    echo "$name | $r | $(cat "$WORK/time")"
    rm -f "$SHM/out"
  done
}
C="\"$CIPHERDROP_BIN\""
K="--key-file \"$SHM/bench.key\""
measure "cat" -- "cat '$SHM/big.bin' > '$SHM/out'"
measure "dd bs=1M" -- "dd if='$SHM/big.bin' of='$SHM/out' bs=1M status=none"
measure "encrypt, 1 thread" -- "$C encrypt $K --threads 1 '$SHM/big.bin' '$SHM/out'"
measure "encrypt, $threads threads" -- "$C encrypt $K '$SHM/big.bin' '$SHM/out'"
"$CIPHERDROP_BIN" encrypt "${key[@]}" "$SHM/big.bin" "$SHM/big.cd"
measure "decrypt, 1 thread" -- "$C decrypt $K --threads 1 '$SHM/big.cd' '$SHM/out'"
measure "decrypt, $threads threads" -- "$C decrypt $K '$SHM/big.cd' '$SHM/out'"
measure "encrypt - - (pipe)" -- "$C encrypt $K - - < '$SHM/big.bin' > '$SHM/out'"
measure "decrypt - - (pipe, to /dev/null)" -- "$C decrypt $K - - < '$SHM/big.cd' > /dev/null"
