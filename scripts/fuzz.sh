#!/usr/bin/env bash
# Runs the store's cargo-fuzz targets (native/store/fuzz) for a fixed time each
# and prints executions, time and crashes per target. Not part of `npm test`.
#
#   npm run fuzz                         # every target, 60 s each
#   npm run fuzz -- --seconds 300        # longer
#   npm run fuzz -- segment_recovery     # one target
#   npm run fuzz -- --sanitizer none     # without AddressSanitizer (faster)
#
# Works on a stable toolchain: RUSTC_BOOTSTRAP=1 lets stable rustc take the
# -Z sanitizer and coverage flags cargo-fuzz passes. Crash inputs land in
# native/store/fuzz/artifacts/<target>/; corpora grow in native/store/fuzz/corpus/.
set -euo pipefail

seconds=60
sanitizer=address
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --sanitizer) sanitizer="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
fuzz_dir="$root/native/store/fuzz"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (cargo install cargo-fuzz)..."
  cargo install cargo-fuzz
fi

cd "$fuzz_dir"
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

echo "building ${targets[*]} (sanitizer: $sanitizer)..."
cargo fuzz build --sanitizer "$sanitizer" >/dev/null

summary=()
failed=0
for target in "${targets[@]}"; do
  mkdir -p "artifacts/$target"
  before=$(find "artifacts/$target" -type f | wc -l)
  log="$(mktemp)"
  echo "== $target: fuzzing for ${seconds}s"
  status=0
  cargo fuzz run --sanitizer "$sanitizer" "$target" -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(grep -oE '^Done [0-9]+ runs in [0-9]+ second' "$log" | grep -oE '[0-9]+' | head -1 || true)
  secs=$(grep -oE '^Done [0-9]+ runs in [0-9]+ second' "$log" | grep -oE '[0-9]+' | tail -1 || true)
  if [ -z "$runs" ]; then
    # Stopped early (a crash): libFuzzer's final stats still say how far it got.
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
    secs="<${seconds}"
  fi
  # A crashed run leaves its scratch directory behind (see scratch_dir in fuzz/src/lib.rs).
  rm -rf /dev/shm/fjord-fuzz-* "${TMPDIR:-/tmp}"/fjord-fuzz-* 2>/dev/null || true
  after=$(find "artifacts/$target" -type f | wc -l)
  crashes=$((after - before))
  if [ "$status" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    failed=1
    grep -E "panicked at|ERROR: libFuzzer|Test unit written" "$log" | head -5 || true
    echo "   full output: $log"
  else
    rm -f "$log"
  fi
  summary+=("$(printf '%-20s %12s executions %6s s %3d crashes' "$target" "$runs" "$secs" "$crashes")")
done

echo
printf '%s\n' "${summary[@]}"
exit "$failed"
