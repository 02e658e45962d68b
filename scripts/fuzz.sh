#!/usr/bin/env bash
# fuzz.sh — builds the libFuzzer targets (tests/fuzz/fuzz_*.c) and runs them.
#
#   scripts/fuzz.sh                 every target for FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=5 scripts/fuzz.sh  quick smoke run
#   scripts/fuzz.sh fuzz_xml ...    only the named targets
#   FUZZ_RUNS=10000000 scripts/fuzz.sh
#                                   each target for that many executions
#                                   instead of a time (the issue-7 figure)
#   scripts/fuzz.sh --regress       each target once over its committed corpus,
#                                   no fuzzing (a few seconds; `make test` runs this)
#
# Fuzzing never writes into the committed corpus (tests/fuzz/corpus/<target>):
# it is copied to a scratch directory under ${TMPDIR:-/tmp}, which also gets
# the crash reproducers (crash-*, leak-*, timeout-*). Their paths are printed
# at the end and the script exits non-zero if any target crashed or did not
# build. A reproducer replays with `build/fuzz/<target> <file>`; add it to the
# corpus only once the code it broke is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=fuzz
targets=()
for arg in "$@"; do
  case "$arg" in
    --regress) mode=regress ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    fuzz_*) targets+=("$arg") ;;
    *) echo "fuzz.sh: unknown argument \"$arg\"" >&2; exit 2 ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.c; do
    t=$(basename "$src" .c)
    targets+=("$t")
  done
fi

seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_MAKE_JOBS:-2}
failed=()
crashes=()

# Build everything first (one make, so shared libraries are built once).
build_targets=()
for t in "${targets[@]}"; do build_targets+=("build/fuzz/$t"); done
if ! make --no-print-directory -s -j"$jobs" -k "${build_targets[@]}" >&2; then
  echo "fuzz.sh: some targets did not build" >&2
fi

# Per-target input size caps: archives need room, text parsers less.
max_len() {
  case "$1" in
    fuzz_bundle) echo 65536 ;;
    fuzz_multipart|fuzz_csv) echo 32768 ;;
    *) echo 16384 ;;
  esac
}

scratch=""
if [ "$mode" = fuzz ]; then
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/trainyard-fuzz.XXXXXX")
  echo "fuzz.sh: scratch directory $scratch" >&2
fi

for t in "${targets[@]}"; do
  bin="build/fuzz/$t"
  corpus="tests/fuzz/corpus/$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz.sh: $t: not built" >&2
    failed+=("$t (build)")
    continue
  fi
  if [ "$mode" = regress ]; then
    mapfile -t files < <(find "$corpus" -type f 2>/dev/null | sort)
    if [ ${#files[@]} -eq 0 ]; then
      echo "fuzz.sh: $t: no corpus in $corpus" >&2
      failed+=("$t (no corpus)")
      continue
    fi
    log=$(mktemp "${TMPDIR:-/tmp}/trainyard-fuzz-regress.XXXXXX")
    if "$bin" -timeout=10 -rss_limit_mb=2048 "${files[@]}" >"$log" 2>&1; then
      echo "fuzz.sh: $t: ${#files[@]} inputs ok"
    else
      echo "fuzz.sh: $t: FAILED on its corpus; last lines:" >&2
      tail -n 30 "$log" >&2
      failed+=("$t")
    fi
    rm -f "$log"
    continue
  fi

  work="$scratch/$t"
  mkdir -p "$work/corpus" "$work/crashes"
  [ -d "$corpus" ] && cp -R "$corpus/." "$work/corpus/"
  if [ -n "${FUZZ_RUNS:-}" ]; then
    budget=(-runs="$FUZZ_RUNS")
    echo "fuzz.sh: $t: fuzzing for $FUZZ_RUNS executions" >&2
  else
    budget=(-max_total_time="$seconds")
    echo "fuzz.sh: $t: fuzzing for ${seconds}s" >&2
  fi
  started=$(date +%s)
  if "$bin" "$work/corpus" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 \
      -max_len="$(max_len "$t")" -print_final_stats=1 \
      -artifact_prefix="$work/crashes/" >"$work/log" 2>&1; then
    echo "fuzz.sh: $t: ok ($(grep -c . <(find "$work/corpus" -type f)) corpus inputs," \
      "$(grep -m1 'stat::number_of_executed_units' "$work/log" | awk '{print $2}') runs" \
      "in $(( $(date +%s) - started ))s)"
  else
    echo "fuzz.sh: $t: CRASHED; see $work/log" >&2
    grep -m1 -E 'ERROR: |fuzz invariant broken|runtime error' "$work/log" >&2 || true
    failed+=("$t")
  fi
  for f in "$work/crashes"/*; do
    [ -e "$f" ] && crashes+=("$f")
  done
done

if [ ${#crashes[@]} -gt 0 ]; then
  echo "fuzz.sh: reproducers:" >&2
  printf '  %s\n' "${crashes[@]}" >&2
fi
passed=$(( ${#targets[@]} - ${#failed[@]} ))
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  echo "fuzz: $passed passed, ${#failed[@]} failed"
  exit 1
fi
echo "fuzz: $passed passed, 0 failed"
