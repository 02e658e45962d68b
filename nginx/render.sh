#!/bin/sh
# render.sh — renders nginx/trainyard.conf.in to stdout.
#
# Used by scripts/stack.sh for the local stack and by the Dockerfile for the
# container stack, so that both run the same configuration. Every @NAME@
# marker comes from the environment variable NGINX_NAME; nginx's own $variables
# are not touched. Fails if a marker is left without a value.
#
#   NGINX_PREFIX=... NGINX_LISTEN=127.0.0.1:8080 ... nginx/render.sh > nginx.conf
set -eu

here=$(cd "$(dirname "$0")" && pwd)
template=${1:-$here/trainyard.conf.in}

: "${NGINX_PREFIX:?}" "${NGINX_LISTEN:?}" "${NGINX_API_SOCKET:?}" "${NGINX_WWW_DIR:?}"
: "${NGINX_LOG_DIR:=$NGINX_PREFIX}"
: "${NGINX_ACCESS_LOG:=$NGINX_LOG_DIR/nginx-access.log combined buffer=64k flush=1s}"
: "${NGINX_WORKERS:=auto}"
: "${NGINX_RATE_LIMIT:=2000r/s}"
: "${NGINX_RATE_BURST:=4000}"
# Per key: the per-IP figures unless set (a lifted per-IP limit lifts both).
: "${NGINX_KEY_RATE_LIMIT:=$NGINX_RATE_LIMIT}"
: "${NGINX_KEY_RATE_BURST:=$NGINX_RATE_BURST}"
# Largest upload nginx lets through (TRAINYARD_UPLOAD_LIMIT, nginx's units).
: "${NGINX_UPLOAD_LIMIT:=2g}"
# Hand large bodies to the API by path (1: same host and user, the local
# stack) or send them over the socket once complete (0: containers).
: "${NGINX_BODY_BY_PATH:=1}"
if [ "$NGINX_BODY_BY_PATH" = 1 ]; then
  body_in_file=clean pass_body=off
else
  body_in_file=off pass_body=on
fi
# Workers run unprivileged when the master is root; the API socket's group
# must be this user's group.
: "${NGINX_USER_LINE:=}"

# Every access log uses the format that redacts api_key from the request URI
# (trainyard.conf.in): "combined" is replaced, a log without a format gets it.
# TRAINYARD_LOG_FORMAT=json picks its JSON twin (one object per line).
redacted=trainyard_redacted
[ "${TRAINYARD_LOG_FORMAT:-text}" = json ] && redacted=trainyard_json
case "$NGINX_ACCESS_LOG" in
  off) ;;
  *" combined"*) NGINX_ACCESS_LOG=$(printf '%s' "$NGINX_ACCESS_LOG" | sed "s/ combined/ $redacted/") ;;
  *" trainyard_redacted"*) NGINX_ACCESS_LOG=$(printf '%s' "$NGINX_ACCESS_LOG" | sed "s/ trainyard_redacted/ $redacted/") ;;
  *" trainyard_json"*) ;;
  *" "*)
    set -- $NGINX_ACCESS_LOG
    case "$2" in
      *=*) first=$1; shift; NGINX_ACCESS_LOG="$first $redacted $*" ;;
    esac ;;
  *) NGINX_ACCESS_LOG="$NGINX_ACCESS_LOG $redacted" ;;
esac

esc() { printf '%s' "$1" | sed 's/[|&\\]/\\&/g'; }

sed -e "s|@PREFIX@|$(esc "$NGINX_PREFIX")|g" \
    -e "s|@LISTEN@|$(esc "$NGINX_LISTEN")|g" \
    -e "s|@API_SOCKET@|$(esc "$NGINX_API_SOCKET")|g" \
    -e "s|@WWW_DIR@|$(esc "$NGINX_WWW_DIR")|g" \
    -e "s|@LOG_DIR@|$(esc "$NGINX_LOG_DIR")|g" \
    -e "s|@ACCESS_LOG@|$(esc "$NGINX_ACCESS_LOG")|g" \
    -e "s|@NGINX_WORKERS@|$(esc "$NGINX_WORKERS")|g" \
    -e "s|@RATE_LIMIT@|$(esc "$NGINX_RATE_LIMIT")|g" \
    -e "s|@RATE_BURST@|$(esc "$NGINX_RATE_BURST")|g" \
    -e "s|@KEY_RATE_LIMIT@|$(esc "$NGINX_KEY_RATE_LIMIT")|g" \
    -e "s|@KEY_RATE_BURST@|$(esc "$NGINX_KEY_RATE_BURST")|g" \
    -e "s|@UPLOAD_LIMIT@|$(esc "$NGINX_UPLOAD_LIMIT")|g" \
    -e "s|@BY_PATH@|$(esc "$NGINX_BODY_BY_PATH")|g" \
    -e "s|@BODY_IN_FILE@|$body_in_file|g" \
    -e "s|@PASS_BODY@|$pass_body|g" \
    -e "s|@USER_LINE@|$(esc "$NGINX_USER_LINE")|g" \
    "$template" > "${TMPDIR:-/tmp}/trainyard-render.$$"
if grep -n '@[A-Z_]*@' "${TMPDIR:-/tmp}/trainyard-render.$$" >&2; then
  rm -f "${TMPDIR:-/tmp}/trainyard-render.$$"
  echo "render.sh: unrendered markers above" >&2
  exit 1
fi
cat "${TMPDIR:-/tmp}/trainyard-render.$$"
rm -f "${TMPDIR:-/tmp}/trainyard-render.$$"
