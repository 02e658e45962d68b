#!/bin/sh
# kaos_sandbox.sh — the sandbox's cost for KAOS jobs (bench/kaos_sandbox.c):
# start-up per run and the 4-run grid at parallelism 2, sandboxed vs direct,
# on examples/kaos. Prints the load average beside the figures (the machine
# is shared: compare the two columns of one run, not runs with each other).
#
#   bench/kaos_sandbox.sh [BUILD_DIR] [starts] [grids]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${1:-$ROOT/build}
BIN=$BUILD_DIR/bench/kaos_sandbox
[ -x "$BIN" ] || { echo "kaos_sandbox: $BIN missing (make bench-programs)" >&2; exit 1; }
[ -x /usr/bin/bwrap ] || { echo "kaos_sandbox: no bubblewrap: skipped"; exit 0; }
EX=$ROOT/examples/kaos
W=$(mktemp -d /tmp/trainyard-kaosbench.XXXXXX)
trap 'rm -rf "$W"' EXIT
chmod 755 "$W"
mkdir -p "$W/hyper" "$W/direct" "$W/out"
cp -r "$EX/iris-forest" "$W/code"
cp -r "$EX/data/features" "$W/features"
cp "$EX"/params/p[1-4].json "$W/hyper/"
# The direct runs: the same program, its /pfs/ paths pointed at a folder of
# its own per run (data, and only this run's hyperparameter file).
for i in 1 2 3 4; do
  R=$W/direct/run-$i
  mkdir -p "$R/pfs/data" "$R/pfs/hyper"
  ln -s "$W/features" "$R/pfs/data/features"
  cp "$W/hyper/p$i.json" "$R/pfs/hyper/"
  cp -r "$W/code/model" "$R/model"
  sed "s#/pfs/#$R/pfs/#g" "$W/code/model/train" > "$R/model/train"
done
# as the unpacker makes it (KAOS's template ships train without the bit)
chmod 755 "$W/code/model/train"
chmod -R a+rX "$W"
[ "$(id -u)" = 0 ] && chown nobody "$W/out"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
"$BIN" "$W/code" "$W/features" "$W/hyper" "$W/direct" "$W/out" "${2:-30}" "${3:-3}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
