# Shared by the bench scripts (source it): what a benchmark needs, built or installed
# when missing and left alone when it is there, and a scratch directory removed at exit.
# On top of scripts/lib.sh: ROOT, PATH with ~/.cargo/bin, CARGO_TARGET_DIR (default
# ~/.cache/cipherdrop-target, shared with scripts/serve and scripts/test), say,
# ensure_apt, ensure_chromium, ensure_moto.

# shellcheck source=../scripts/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/lib.sh"

# The benchmarks' node packages (playwright-core, esbuild, the peer libraries).
BENCH_NODE="$ROOT/bench/peers"

# ensure_npm DIR: `npm ci` in DIR only when its node_modules were not installed from
# the current package-lock.json (a stamp in node_modules holds the lockfile's SHA-256).
ensure_npm() {
  local dir="$1" want have
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  have="$(cat "$dir/node_modules/.cipherdrop-lock-sha256" 2>/dev/null || true)"
  [ "$want" = "$have" ] && return 0
  say "installing the packages of ${dir#"$ROOT"/} (npm ci, from its package-lock.json)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
  echo "$want" >"$dir/node_modules/.cipherdrop-lock-sha256"
}

# ensure_bench_node: Chromium and the benchmarks' node packages.
# Installers print to stderr: stdout is the benchmark's result.
ensure_bench_node() {
  ensure_chromium >&2
  ensure_npm "$BENCH_NODE"
}

# ensure_wasm_pkg: the npm package in wasm/pkg, rebuilt from the sources
# (scripts/build-wasm.sh: cargo does nothing when the wasm is up to date).
ensure_wasm_pkg() {
  "$ROOT/scripts/build-wasm.sh" >&2
}

# ensure_cipherdrop: sets and exports CIPHERDROP_BIN. When it is set already it must be
# an executable; otherwise the release build of `cipherdrop` in CARGO_TARGET_DIR (cargo
# does nothing when it is up to date; a cold build takes about 5 minutes on 2 cores).
ensure_cipherdrop() {
  if [ -n "${CIPHERDROP_BIN:-}" ]; then
    [ -x "$CIPHERDROP_BIN" ] || { echo "CIPHERDROP_BIN=$CIPHERDROP_BIN is not an executable file" >&2; return 1; }
    return 0
  fi
  say "building cipherdrop (release, into $CARGO_TARGET_DIR; nothing to do when up to date)"
  (cd "$ROOT" && cargo build --release --locked -p cipherdrop-server --bin cipherdrop) >&2
  export CIPHERDROP_BIN="$CARGO_TARGET_DIR/release/cipherdrop"
}

# bench_scratch NAME: WORK, a fresh directory under $TMPDIR (default /tmp; TMPDIR=/dev/shm
# keeps a disk out of the measure), also TMPDIR for everything
# started from here (node's temporary files, Chromium's profile), removed with all it
# holds when the script ends: normally, on an error, on Ctrl-C or on kill (TERM, HUP).
# Processes listed in BENCH_PIDS are stopped first.
BENCH_PIDS=()
bench_scratch() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/cipherdrop-$1.XXXXXX")"
  export TMPDIR="$WORK"
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}
bench_cleanup() {
  local p
  for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BENCH_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
}
