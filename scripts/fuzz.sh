#!/usr/bin/env bash
# Runs each cargo-fuzz target in fuzz/ for a set time, one after the other (CI only
# builds them), and prints per target: time, executions, exec/s, crashes found (with
# the artefact paths) and the corpus (files, bytes) before and after.
#
#   scripts/fuzz.sh                      # every target, 10 minutes each
#   scripts/fuzz.sh --minutes 1          # the smallest useful run
#   scripts/fuzz.sh --minutes 30 decrypt # one target
#
# Installs the nightly toolchain and cargo-fuzz when missing (nothing when present).
# The corpus grows in fuzz/corpus/<target>/ (seeded from the vector files, kept between
# runs, not committed); crashes are saved in fuzz/artifacts/<target>/. The fuzz crate
# builds into fuzz/target (its own workspace), not into CARGO_TARGET_DIR.
# libFuzzer stops at a crash: the target is then started again for the time left, up
# to 5 crashes per target, unless the crash was one seen before (a crashing corpus
# file). Exit status 1 when any target crashed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"
  echo
  echo "usage: scripts/fuzz.sh [--minutes N] [TARGET...]"
}

minutes=10
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes)
      [ $# -ge 2 ] || { echo "--minutes needs a number (minutes per target)" >&2; exit 2; }
      minutes="$2"; shift 2 ;;
    --minutes=*) minutes="${1#--minutes=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "unknown option '$1' (see scripts/fuzz.sh --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ "$minutes" =~ ^[0-9]+$ ]] && [ "$minutes" -ge 1 ] \
  || { echo "--minutes must be a whole number of minutes, at least 1 (got '$minutes')" >&2; exit 2; }

ensure_fuzz_tools
cd "$ROOT/fuzz"
# fuzz/ is its own workspace: build into fuzz/target, as `cargo fuzz` does by default.
unset CARGO_TARGET_DIR

known=$(cargo +nightly fuzz list)
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets <<<"$known"
fi
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$known" || { echo "no fuzz target '$t' (there are: $(tr '\n' ' ' <<<"$known"))" >&2; exit 2; }
done

say "seeding fuzz/corpus from the vector files (fuzz/seed-corpus.sh)"
./seed-corpus.sh
say "building the fuzz targets (cargo +nightly fuzz build)"
cargo +nightly fuzz build

corpus_size() { # files bytes
  local d="corpus/$1"
  printf '%s %s\n' "$(find "$d" -type f | wc -l)" "$(find "$d" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')"
}
artefacts() { find "artifacts/$1" -type f 2>/dev/null | sort; }
# stat NAME LOG: the last value libFuzzer printed for stat::NAME in LOG (0 when none).
stat() { { grep "^stat::$1:" "$2" || echo ": 0"; } | tail -n1 | awk '{print $2}'; }

log_dir="$(mktemp -d /tmp/cipherdrop-fuzz.XXXXXX)"
trap 'rm -rf "$log_dir"' EXIT
budget=$((minutes * 60))
report=()
any_crash=0
for t in "${targets[@]}"; do
  read -r files_before bytes_before < <(corpus_size "$t")
  mapfile -t arts_before < <(artefacts "$t")
  say "fuzzing $t for $minutes min (corpus: $files_before files, $bytes_before bytes)"
  execs=0 runs=0 start=$SECONDS last_count=-1
  while :; do
    left=$((budget - (SECONDS - start)))
    [ "$left" -ge 5 ] || break
    runs=$((runs + 1))
    log="$log_dir/$t-$runs.log"
    set +e
    cargo +nightly fuzz run "$t" -- -max_total_time="$left" -print_final_stats=1 2>&1 \
      | tee "$log" | grep -E '^(#[0-9]+[[:space:]]+(pulse|DONE)|==[0-9]+==|SUMMARY|Test unit written)' >&2
    status=${PIPESTATUS[0]}
    set -e
    execs=$((execs + $(stat number_of_executed_units "$log")))
    [ "$status" -eq 0 ] && break
    # A crash (or a failure to start): go on only when it left a new artefact (the
    # same one again means a crash in the corpus itself: every run would stop there).
    grep -q 'Test unit written to' "$log" || { echo "cargo fuzz run $t failed (exit $status) without a crash artefact; its output: $log" >&2; trap - EXIT; exit 1; }
    count=$(artefacts "$t" | wc -l)
    [ "$runs" -lt 5 ] && [ "$count" -gt "${last_count:--1}" ] || break
    last_count=$count
  done
  took=$((SECONDS - start))
  read -r files_after bytes_after < <(corpus_size "$t")
  mapfile -t arts_after < <(artefacts "$t")
  new_arts=()
  for a in "${arts_after[@]}"; do
    [[ " ${arts_before[*]} " == *" $a "* ]] || new_arts+=("fuzz/$a")
  done
  [ ${#new_arts[@]} -eq 0 ] || any_crash=1
  rate=$(awk -v e="$execs" -v s="$took" 'BEGIN {printf "%.0f", (s > 0 ? e / s : 0)}')
  report+=("$(printf '%-8s %6d s %14d execs %9d exec/s  crashes %d  corpus %d files %d bytes -> %d files %d bytes' \
    "$t" "$took" "$execs" "$rate" "${#new_arts[@]}" "$files_before" "$bytes_before" "$files_after" "$bytes_after")")
  for a in "${new_arts[@]}"; do
    report+=("         crash artefact: $a (replay: cargo +nightly fuzz run $t $a)")
  done
done

say "fuzz report ($minutes min per target; nightly $(rustc +nightly --version | cut -d' ' -f2-), $(cargo fuzz --version))"
printf '%s\n' "${report[@]}"
exit "$any_crash"
