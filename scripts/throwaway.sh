# throwaway.sh — sourced by chaos.sh and soak.sh: a stack of their own.
#
#   throwaway_stack NAME     builds the programs, starts a stack in a fresh
#                            /tmp/trainyard-NAME.* var dir on free ports (the
#                            caller sets TRAINYARD_* tuning first), sources its
#                            env and stops it (and deletes the dir unless
#                            ${NAME^^}_KEEP=1) when the script exits.
# Sets ROOT (the checkout, also the working directory), PY and
# TRAINYARD_BUILD; exports TRAINYARD_DATABASE_URL and TRAINYARD_BASE_URL.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
PY=/usr/bin/python3
BUILD_DIR=${TRAINYARD_BUILD:-${BUILD:-build}}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
export TRAINYARD_BUILD=$BUILD_DIR

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

throwaway_stack() {
  local name=$1
  make --no-print-directory -s BUILD="$BUILD_DIR" programs >/dev/null || exit 1
  THROWAWAY_VAR=$(mktemp -d "/tmp/trainyard-$name.XXXXXX")
  THROWAWAY_KEEP_VAR=$(printf '%s_KEEP' "$name" | tr '[:lower:]' '[:upper:]')
  THROWAWAY_NAME=$name
  chmod 755 "$THROWAWAY_VAR"
  export TRAINYARD_VAR=$THROWAWAY_VAR
  TRAINYARD_PORT=$(free_port)
  TRAINYARD_PG_PORT=$(free_port)
  export TRAINYARD_PORT TRAINYARD_PG_PORT
  export TRAINYARD_QUIET=1 TRAINYARD_RATE_LIMIT=100000r/s
  unset TRAINYARD_PG_FAST TRAINYARD_DATABASE_URL
  trap throwaway_stop EXIT
  scripts/stack.sh start >/dev/null || { echo "$name: the stack did not start" >&2; exit 1; }
  # shellcheck disable=SC1091
  . "$THROWAWAY_VAR/env"
  export TRAINYARD_DATABASE_URL TRAINYARD_BASE_URL
}

throwaway_stop() {
  scripts/stack.sh stop >/dev/null 2>&1
  if [ "${!THROWAWAY_KEEP_VAR:-0}" = 1 ]; then
    echo "$THROWAWAY_NAME: state kept in $THROWAWAY_VAR" >&2
  else
    rm -rf "$THROWAWAY_VAR"
  fi
}
