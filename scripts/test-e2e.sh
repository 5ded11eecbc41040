#!/usr/bin/env bash
# End-to-end tests of the page (tests/e2e/*.test.mjs) in Chromium, Firefox and WebKit
# through tests/lib/browser.mjs (classic W3C WebDriver; each engine installed when
# missing, see scripts/lib.sh). Builds the server and the page when needed.
#
# The local pass, in every selected engine: starts `cipherdrop serve` (local mode) on
# a free loopback port with a fresh data directory and runs every tests/e2e/*.test.mjs
# with CIPHERDROP_BROWSER=<engine> and CIPHERDROP_URL / CIPHERDROP_DATA_DIR set (tests
# that need other settings — OIDC, resume, a11y, share (its server logs at debug) —
# start their own server from CIPHERDROP_BIN and CIPHERDROP_WEB_DIR). The moto pass
# (moto_server on PATH: pip install 'moto[server]') runs page.test.mjs once more
# against moto as S3 and KMS, in one engine only (Chromium when selected): what it
# adds is the other S3/KMS, not another browser. Heavy tests size themselves down outside the first engine
# (CIPHERDROP_HEAVY=1 there, 0 elsewhere; resume.test.mjs: CIPHERDROP_RESUME_MIB=64
# outside it unless set). Screenshots go to tests/artifacts/ (named by mode and engine).
#
#   scripts/test-e2e.sh                    # local pass in each engine, then moto
#   scripts/test-e2e.sh local              # local pass only
#   scripts/test-e2e.sh moto               # moto pass only
#   scripts/test-e2e.sh --browser firefox  # one engine (also for moto)
#   CIPHERDROP_BROWSERS=chromium,webkit scripts/test-e2e.sh
# CIPHERDROP_BROWSERS defaults to chromium,firefox,webkit. Prints the time per engine.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODES=all
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --browser) ONLY="${2:?--browser needs chromium, firefox or webkit}"; shift 2 ;;
    --browser=*) ONLY="${1#--browser=}"; shift ;;
    all | local | moto) MODES="$1"; shift ;;
    *) echo "usage: scripts/test-e2e.sh [all|local|moto] [--browser chromium|firefox|webkit]" >&2; exit 2 ;;
  esac
done
select_browsers "$ONLY"
ensure_browsers $BROWSERS
# The engine for the moto pass and for heavy tests: Chromium when selected.
case " $BROWSERS " in *" chromium "*) FIRST=chromium ;; *) FIRST="${BROWSERS%% *}" ;; esac

BIN="${CIPHERDROP_BIN:-$CARGO_TARGET_DIR/debug/cipherdrop}"
if [ -z "${CIPHERDROP_BIN:-}" ]; then
  say "building cipherdrop (debug)"
  (cd "$ROOT" && cargo build -p cipherdrop-server --quiet)
fi
export CIPHERDROP_BIN="$BIN" CIPHERDROP_WEB_DIR="$ROOT/web/dist"
say "building the page"
"$ROOT/scripts/build-web.sh"
(cd "$ROOT/tests/e2e" && npm ci --no-audit --no-fund --loglevel=error)

WORK="$(mktemp -d /tmp/cipherdrop-e2e.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start_server NAME ARGS...: runs cipherdrop serve, sets URL from its first line and
# SERVER_PID.
start_server() {
  local name="$1"; shift
  local log="$WORK/$name.log"
  "$BIN" serve --listen 127.0.0.1:0 --web-dir "$ROOT/web/dist" \
    --multipart-threshold 8388608 --part-size 5242880 "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  URL=""
  for _ in $(seq 1 150); do
    URL="$(sed -n 's/^CipherDrop is running at \(http[^ ]*\).*/\1/p' "$log" | head -n1)"
    [ -n "$URL" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; echo "cipherdrop serve exited" >&2; return 1; }
    sleep 0.2
  done
  [ -n "$URL" ] || { cat "$log" >&2; echo "cipherdrop serve did not start" >&2; return 1; }
  say "$name: cipherdrop serve at $URL"
}
stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }

declare -A SPENT=()
status=0
failed=()

# run_tests ENGINE FILE...: the files in that engine, heavy or not, timed.
run_tests() {
  local engine="$1" t0=$SECONDS heavy=0; shift
  [ "$engine" = "$FIRST" ] && heavy=1
  local resume_mib="${CIPHERDROP_RESUME_MIB:-}"
  [ "$heavy" = 0 ] && resume_mib="${CIPHERDROP_RESUME_MIB:-64}"
  (cd "$ROOT/tests/e2e" && env CIPHERDROP_BROWSER="$engine" CIPHERDROP_HEAVY="$heavy" \
    ${resume_mib:+CIPHERDROP_RESUME_MIB=$resume_mib} timeout 1500 "${NODE_TEST[@]}" "$@") ||
    { status=1; failed+=("$engine: $*"); }
  SPENT[$engine]=$(( ${SPENT[$engine]:-0} + SECONDS - t0 ))
}

if [ "$MODES" = all ] || [ "$MODES" = local ]; then
  for engine in $BROWSERS; do
    say "local pass in $engine: $(cd "$ROOT/tests/e2e" && echo *.test.mjs)"
    start_server "local-$engine" --data-dir "$WORK/local-$engine"
    CIPHERDROP_URL="$URL" CIPHERDROP_DATA_DIR="$WORK/local-$engine" \
      run_tests "$engine" $(cd "$ROOT/tests/e2e" && echo *.test.mjs)
    stop_server
  done
fi

if [ "$MODES" = all ] || [ "$MODES" = moto ]; then
  if ! command -v moto_server >/dev/null 2>&1; then
    if [ "$MODES" = moto ]; then echo "moto_server not found: pip install 'moto[server]'" >&2; exit 1; fi
    say "SKIPPED the moto pass: moto_server not found (pip install 'moto[server]')"
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
    say "moto pass in $FIRST: page.test.mjs"
    start_server moto --data-dir "$WORK/moto-data" --bucket "$BUCKET" --endpoint-url "$MOTO" \
      --kms-key-id "$(cat "$WORK/kms-key")" --region us-east-1 --dev-login true
    CIPHERDROP_URL="$URL" CIPHERDROP_S3_ENDPOINT="$MOTO" CIPHERDROP_BUCKET="$BUCKET" \
      run_tests "$FIRST" page.test.mjs
    stop_server
  fi
fi

say "end-to-end seconds per engine (mode: $MODES):"
for engine in $BROWSERS; do printf '    %-9s %4d s\n' "$engine" "${SPENT[$engine]:-0}" >&2; done
for f in "${failed[@]}"; do echo "FAILED: $f" >&2; done
exit $status
