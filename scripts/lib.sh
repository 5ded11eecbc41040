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

GECKODRIVER_VERSION=0.37.1
ensure_firefox() {
  ensure_apt firefox-esr firefox-esr
  # geckodriver (the W3C WebDriver server for Firefox) is a crate; Debian has none.
  if [ "$(geckodriver --version 2>/dev/null | head -n1)" != "geckodriver $GECKODRIVER_VERSION" ]; then
    say "installing geckodriver $GECKODRIVER_VERSION (cargo install, a few minutes)"
    # Not --locked: tried without it (about 3 min of CPU on 2 cores).
    cargo install geckodriver --version "$GECKODRIVER_VERSION"
  fi
}

# WebKit: WebKitGTK's WebKitWebDriver drives its MiniBrowser; both need a display (Xvfb).
ensure_webkit() {
  ensure_apt WebKitWebDriver webkit2gtk-driver
  ensure_apt xvfb-run xvfb xauth
}

# Browser engines the tests run in: CIPHERDROP_BROWSERS (comma-separated, default
# all three), or one given with --browser ENGINE. Sets BROWSERS (space-separated).
select_browsers() { # select_browsers [ENGINE]
  local list="${1:-${CIPHERDROP_BROWSERS:-chromium,firefox,webkit}}" e
  BROWSERS=""
  for e in ${list//,/ }; do
    case "$e" in
      chromium | firefox | webkit) BROWSERS="$BROWSERS $e" ;;
      *) echo "unknown browser '$e' (chromium, firefox, webkit)" >&2; return 1 ;;
    esac
  done
  BROWSERS="${BROWSERS# }"
  [ -n "$BROWSERS" ] || { echo "no browser selected" >&2; return 1; }
}

ensure_browsers() { # ensure_browsers ENGINE...
  local e
  for e in "$@"; do "ensure_$e"; done
}

# Node 20 has a global WebSocket only behind this flag (the Firefox driver talks BiDi).
NODE_TEST=(node --experimental-websocket --test --test-concurrency=1)

ensure_moto() {
  if ! moto_server --help >/dev/null 2>&1; then
    say "installing moto[server] (PyPI): an independent S3 + KMS server for the tests"
    python3 -m pip install --quiet 'moto[server]'
    hash -r
  fi
}

# HAProxy, the load balancer in front of two replicas in server/tests/replicas.rs.
# Debian installs it in /usr/sbin, which a user's PATH may not hold.
ensure_haproxy() {
  if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then return 0; fi
  ensure_apt haproxy haproxy
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
