#!/usr/bin/env bash
# End-to-end tests of the page in headless Chromium (tests/e2e): builds the server
# and the page when needed, starts `cipherdrop serve` on a free loopback port with a
# temporary data directory, runs the tests, stops the server. With moto_server on
# PATH (pip install 'moto[server]') it runs them a second time against moto as S3
# and KMS. The local run also signs in through OIDC (authorization code + PKCE)
# with a fake issuer on loopback (tests/e2e/oidc.test.mjs). Screenshots go to
# tests/artifacts/.
#
#   scripts/test-e2e.sh              # local mode, then moto when available
#   scripts/test-e2e.sh local        # local mode only
#   scripts/test-e2e.sh moto         # moto only
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/cipherdrop-target}"
export PATH="$HOME/.cargo/bin:$PATH"
MODES="${1:-all}"
BIN="${CIPHERDROP_BIN:-$CARGO_TARGET_DIR/debug/cipherdrop}"

say() { printf '\n==> %s\n' "$*" >&2; }

if [ ! -x /usr/bin/chromium ]; then
  say "installing chromium (Debian)"
  apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }
fi
if [ -z "${CIPHERDROP_BIN:-}" ]; then
  say "building cipherdrop (debug)"
  (cd "$ROOT" && cargo build -p cipherdrop-server --quiet)
fi
say "building the page"
"$ROOT/scripts/build-web.sh"
(cd "$ROOT/tests/e2e" && { [ -e node_modules/playwright-core/package.json ] || npm ci --no-audit --no-fund; })

WORK="$(mktemp -d /tmp/cipherdrop-e2e.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start_server NAME ARGS...: runs cipherdrop serve, sets URL from its first line.
start_server() {
  local name="$1"; shift
  local log="$WORK/$name.log"
  "$BIN" serve --listen 127.0.0.1:0 --web-dir "$ROOT/web/dist" \
    --multipart-threshold 8388608 --part-size 5242880 "$@" >"$log" 2>&1 &
  PIDS+=("$!")
  URL=""
  for _ in $(seq 1 150); do
    URL="$(sed -n 's/^CipherDrop is running at \(http[^ ]*\).*/\1/p' "$log" | head -n1)"
    [ -n "$URL" ] && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$log" >&2; echo "cipherdrop serve exited" >&2; return 1; }
    sleep 0.2
  done
  [ -n "$URL" ] || { cat "$log" >&2; echo "cipherdrop serve did not start" >&2; return 1; }
  say "$name: cipherdrop serve at $URL"
}

run_tests() {
  (cd "$ROOT/tests/e2e" && timeout 600 node --test --test-concurrency=1 page.test.mjs)
}

status=0
if [ "$MODES" = all ] || [ "$MODES" = local ]; then
  start_server local --data-dir "$WORK/local-data"
  CIPHERDROP_URL="$URL" CIPHERDROP_DATA_DIR="$WORK/local-data" run_tests || status=1
  # OIDC sign-in against a fake issuer on loopback (the test starts its own server).
  (cd "$ROOT/tests/e2e" && CIPHERDROP_BIN="$BIN" CIPHERDROP_WEB_DIR="$ROOT/web/dist" \
    timeout 300 node --test --test-concurrency=1 oidc.test.mjs) || status=1
fi

if [ "$MODES" = all ] || [ "$MODES" = moto ]; then
  if ! command -v moto_server >/dev/null 2>&1; then
    if [ "$MODES" = moto ]; then echo "moto_server not found: pip install 'moto[server]'" >&2; exit 1; fi
    say "SKIPPED the moto run: moto_server not found (pip install 'moto[server]')"
  else
    MOTO_PORT="$(free_port)"
    moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
    PIDS+=("$!")
    MOTO="http://127.0.0.1:$MOTO_PORT"
    for _ in $(seq 1 100); do curl -fsS "$MOTO/moto-api/" >/dev/null 2>&1 && break; sleep 0.2; done
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
    export AWS_EC2_METADATA_DISABLED=true
    BUCKET="cipherdrop-e2e"
    # boto3 comes with moto.
    python3 - "$MOTO" "$BUCKET" >"$WORK/kms-key" <<'PY'
import sys, boto3
moto, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1")
s3.create_bucket(Bucket=bucket)
# The page (another loopback origin) PUTs and GETs the bucket directly: CORS as
# docs/API.md asks of a real bucket, exposing ETag for multipart.
s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
    "AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT", "POST", "HEAD", "DELETE"],
    "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]}]})
kms = boto3.client("kms", endpoint_url=moto, region_name="us-east-1")
print(kms.create_key()["KeyMetadata"]["KeyId"])
PY
    start_server moto --data-dir "$WORK/moto-data" --bucket "$BUCKET" --endpoint-url "$MOTO" \
      --kms-key-id "$(cat "$WORK/kms-key")" --region us-east-1 --dev-login true
    CIPHERDROP_URL="$URL" CIPHERDROP_S3_ENDPOINT="$MOTO" CIPHERDROP_BUCKET="$BUCKET" run_tests || status=1
  fi
fi
exit $status
