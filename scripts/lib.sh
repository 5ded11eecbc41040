# Shared by scripts/serve and scripts/test: install what is missing, nothing else.
# Every ensure_* function is idempotent: when the tool is there it only checks.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
# Reuse a target directory outside the clone (fast rebuilds); created when missing.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cipherdrop-target}"
mkdir -p "$CARGO_TARGET_DIR"

say() { printf '\n==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_apt() { # ensure_apt COMMAND PACKAGE...
  local cmd="$1"; shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  say "installing $* (Debian packages)"
  as_root apt-get install -y "$@" || { as_root apt-get update && as_root apt-get install -y "$@"; }
}

ensure_chromium() {
  ensure_apt chromium chromium chromium-driver
  ensure_apt chromedriver chromium chromium-driver
}

ensure_moto() {
  if ! moto_server --help >/dev/null 2>&1; then
    say "installing moto[server] (PyPI): an independent S3 + KMS server for the tests"
    python3 -m pip install --quiet 'moto[server]'
    hash -r
  fi
}

ensure_fuzz_tools() {
  if ! rustup toolchain list | grep -q '^nightly'; then
    say "installing the nightly toolchain (for cargo fuzz)"
    rustup toolchain install nightly --profile minimal
  fi
  if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz"
    cargo install cargo-fuzz --version 0.13.2
  fi
}
