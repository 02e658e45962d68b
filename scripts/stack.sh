#!/usr/bin/env bash
# stack.sh — the local trainyard stack: PostgreSQL, migrations, API pool,
# trainer(s) and nginx, all state under one directory (var/ by default).
#
#   scripts/stack.sh run         foreground; Ctrl-C stops everything cleanly
#   scripts/stack.sh start       the same in the background; returns once served
#   scripts/stack.sh stop        stops whatever of the stack is running
#   scripts/stack.sh status      what runs, with pids
#   scripts/stack.sh rotate-logs rotate var/log/*.log over TRAINYARD_LOG_MAX_MB
#   scripts/stack.sh psql [ARGS] psql on the stack's database
#   scripts/stack.sh pg-start | pg-stop | pg-restart    PostgreSQL alone
#   scripts/stack.sh nginx-start                        PostgreSQL-free smoke test
#
# Every part is started idempotently: a part already running (checked by pid
# file and /proc cmdline) is left alone, so `start` twice is harmless and a
# second `make run` reuses var/ and loses nothing. Each daemon runs in its own
# session (setsid) so that Ctrl-C reaches only this script, which then stops
# the parts in order: nginx, API (drains), trainers (grace), PostgreSQL.
#
# Settings (environment):
#   TRAINYARD_VAR            state directory            (<checkout>/var)
#   TRAINYARD_BUILD          where the binaries are     (<checkout>/build)
#   TRAINYARD_PORT           nginx port on 127.0.0.1    (8080)
#   TRAINYARD_PG_PORT        PostgreSQL port on 127.0.0.1 and socket name (5433)
#   TRAINYARD_WORKERS        API pool size              (twice the number of cores)
#   TRAINYARD_TRAINERS       trainer processes          (1)
#   TRAINYARD_TRAINER_SLOTS  jobs per trainer           (the trainer's default)
#   TRAINYARD_RATE_LIMIT     nginx per-IP rate limit    (2000r/s)
#   TRAINYARD_NGINX_WORKERS  nginx worker processes     (1: the API pool gets the other cores)
#   TRAINYARD_NGINX_ACCESS_LOG  access_log arguments    (var/log/nginx-access.log, buffered)
#   TRAINYARD_PG_FAST=1      fsync off: for throwaway test stacks only
#   TRAINYARD_QUIET=1        `run` does not follow the logs
#   TRAINYARD_LOG_MAX_MB     rotate a log past this size (50)
#   TRAINYARD_LOG_KEEP       rotated generations kept    (3)
#
# PostgreSQL: the socket sits in a private directory (0700, the cluster
# owner's), local and TCP logins need a SCRAM password except the superuser,
# who is reached only by peer authentication as the cluster's OS user. Two
# roles: `trainyard` owns the database and runs migrations; `trainyard_app`
# (the API, the trainers, the CLI's everyday commands, psql) owns nothing and
# has only the grants sql/0010_least_privilege.sql gives it. Their passwords
# are generated on first start into var/secrets/ (0700, files 0600), and the
# URLs in var/env name a libpq passfile there instead of holding a password.
# A var/ from a version that trusted every local user is converted on start.
#
# Assumes Debian's postgresql-15 and nginx-light. PostgreSQL refuses to run as
# root, so as root the cluster belongs to the `postgres` system user, and
# nginx workers run as www-data; both need traverse permission on the
# directories above var/, which this script grants (o+x) where missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VAR=${TRAINYARD_VAR:-$ROOT/var}
mkdir -p "$VAR"
VAR=$(cd "$VAR" && pwd)
BUILD=${TRAINYARD_BUILD:-${BUILD:-build}}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
PORT=${TRAINYARD_PORT:-8080}
PG_PORT=${TRAINYARD_PG_PORT:-5433}
WORKERS=${TRAINYARD_WORKERS:-$((2 * $(nproc 2>/dev/null || echo 2)))}
TRAINERS=${TRAINYARD_TRAINERS:-1}
RATE_LIMIT=${TRAINYARD_RATE_LIMIT:-2000r/s}

RUN=$VAR/run
LOG=$VAR/log
PGDATA=$VAR/pg
NGX=$VAR/nginx
API_SOCKET=$RUN/api.sock
BASE_URL=http://127.0.0.1:$PORT

PG_BIN=/usr/lib/postgresql/15/bin
[ -x "$PG_BIN/pg_ctl" ] || PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)

IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1
PG_USER=$(id -un)
WEB_USER=""
WEB_GROUP=""
if [ "$IS_ROOT" -eq 1 ]; then
  PG_USER=postgres
  id postgres >/dev/null 2>&1 || { echo "stack: no 'postgres' system user (install postgresql-15)" >&2; exit 1; }
  if id www-data >/dev/null 2>&1; then WEB_USER=www-data; WEB_GROUP=www-data
  else WEB_USER=nobody; WEB_GROUP=nogroup; fi
fi

say() { printf 'stack: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# The PostgreSQL socket name must fit in sun_path (108 bytes).
PG_SOCKDIR=$RUN/pg
if [ $(( ${#PG_SOCKDIR} + 16 )) -gt 100 ]; then
  PG_SOCKDIR=/tmp/trainyard-pg-$(printf '%s' "$VAR" | md5sum | cut -c1-12)
fi
# The socket directory goes in the URL's host part, percent-encoded, so that the
# URL has no '&' or spaces and var/env needs no quoting.
urlencode() {
  local s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case "$c" in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}
SECRETS=$VAR/secrets
PGPASSFILE_PATH=$SECRETS/pgpass
APP_ROLE=trainyard_app
OWNER_ROLE=trainyard
db_url_for() { # role
  printf 'postgresql://%s@%s:%s/trainyard?passfile=%s' "$1" "$(urlencode "$PG_SOCKDIR")" \
    "$PG_PORT" "$(urlencode "$PGPASSFILE_PATH")"
}
DB_URL=$(db_url_for "$APP_ROLE")
OWNER_DB_URL=$(db_url_for "$OWNER_ROLE")

# --- helpers ------------------------------------------------------------------

# Runs a command as the cluster's owner, from a directory it can read.
as_pg() {
  if [ "$IS_ROOT" -eq 1 ]; then
    (cd / && runuser -u "$PG_USER" -- "$@" 9>&-)
  else
    (cd / && "$@" 9>&-)
  fi
}

# Grants o+x on every directory from $2 up to / that user $1 cannot traverse.
ensure_traverse() {
  local user=$1 d=$2
  [ "$IS_ROOT" -eq 1 ] || return 0
  while [ -n "$d" ] && [ "$d" != "/" ]; do
    if ! runuser -u "$user" -- test -x "$d" 2>/dev/null; then
      chmod o+x "$d" && say "granted traverse permission (o+x) on $d for $user"
    fi
    d=$(dirname "$d")
  done
}

# pid_alive PIDFILE NAME: the pid in the file runs a command line mentioning NAME.
# A command line that reads empty belongs to a process in the middle of an
# exec (the API and the trainer re-execute themselves once): look again.
pid_alive() {
  local f=$1 name=$2 pid cmd i
  [ -s "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [ -n "$pid" ] || return 1
  for ((i = 0; i < 50; i++)); do
    [ -r "/proc/$pid/cmdline" ] || return 1
    cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
    if [ -n "$cmd" ]; then
      case "$cmd" in *"$name"*) return 0 ;; *) return 1 ;; esac
    fi
    proc_gone "$pid" && return 1
    sleep 0.02
  done
  return 1
}

# spawn NAME MATCH CMD...: runs CMD in its own session, logging to var/log/NAME.log.
# With REDACTED_STDERR=FILE set, CMD's stderr goes to FILE through
# nginx/redact.sed instead (nginx's error log, which quotes URLs that may
# carry a key), flushed by the line and read in blocks; sed runs in a
# session of its own, so that a Ctrl-C or a hangup aimed at this script
# does not end it before CMD.
spawn() {
  local name=$1 match=$2; shift 2
  local pidf=$RUN/$name.pid
  if pid_alive "$pidf" "$match"; then return 0; fi
  if [ -n "${REDACTED_STDERR:-}" ]; then
    setsid "$@" >>"$LOG/$name.log" </dev/null 9>&- \
      2> >(exec setsid stdbuf -oL sed -E -f "$ROOT/nginx/redact.sed" >>"$REDACTED_STDERR" 2>&1 9>&-) &
  else
    setsid "$@" >>"$LOG/$name.log" 2>&1 </dev/null 9>&- &
  fi
  local pid=$! i
  echo "$pid" > "$pidf"
  # Until the forked shell has exec'd, /proc/PID/cmdline still shows this
  # script, and pid_alive would call a daemon that is starting dead ("the API
  # exited at start"): wait for the exec, or for the process to be gone.
  for ((i = 0; i < 250; i++)); do
    pid_alive "$pidf" "$match" && return 0
    proc_gone "$pid" && return 0
    sleep 0.02
  done
}

# proc_gone PID: the process has exited (or is a zombie waiting for us).
proc_gone() {
  [ -r "/proc/$1/status" ] || return 0
  grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# stop_pid NAME MATCH TIMEOUT: SIGTERM, wait, then SIGKILL its whole session.
stop_pid() {
  local name=$1 match=$2 timeout=$3 pidf=$RUN/$1.pid pid i
  if pid_alive "$pidf" "$match"; then
    pid=$(cat "$pidf")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name did not stop within ${timeout}s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    # Children left behind by a master that died (workers, job children).
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$pidf"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_code() {
  curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true
}

have_bin() { [ -x "$BUILD/$1" ]; }

layout() {
  mkdir -p "$RUN" "$LOG" "$NGX/tmp" "$NGX/www"
  chmod 755 "$VAR" "$RUN" "$LOG" "$NGX"
}

write_env() {
  local tmp=$VAR/env.tmp
  {
    echo "# written by scripts/stack.sh: the running local stack"
    echo "# (the URLs hold no password: libpq reads it from the passfile they name)"
    echo "TRAINYARD_DATABASE_URL=$DB_URL"
    echo "TRAINYARD_OWNER_DATABASE_URL=$OWNER_DB_URL"
    echo "TRAINYARD_PORT=$PORT"
    echo "TRAINYARD_PG_PORT=$PG_PORT"
    echo "TRAINYARD_BASE_URL=$BASE_URL"
    echo "TRAINYARD_SOCKET=$API_SOCKET"
    echo "TRAINYARD_VAR=$VAR"
  } > "$tmp"
  mv "$tmp" "$VAR/env"
}

# --- PostgreSQL ---------------------------------------------------------------

pg_running() { [ -s "$PGDATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

pg_init() {
  [ -s "$PGDATA/PG_VERSION" ] && return 0
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL binaries not found (run make deps)"
  say "creating the PostgreSQL cluster in $PGDATA"
  mkdir -p "$PGDATA"
  [ "$IS_ROOT" -eq 1 ] && chown "$PG_USER": "$PGDATA"
  chmod 700 "$PGDATA"
  ensure_traverse "$PG_USER" "$PGDATA"
  as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
    -E UTF8 --no-locale \
    >>"$LOG/postgres-init.log" 2>&1 || die "initdb failed: see $LOG/postgres-init.log"
  cat >> "$PGDATA/postgresql.conf" <<EOF

# --- trainyard local stack (port, socket dir and addresses come from stack.sh) ---
max_connections = 200
shared_buffers = 128MB
log_min_duration_statement = -1
log_line_prefix = '%m [%p] %q%u@%d '
password_encryption = scram-sha-256
EOF
  if [ "${TRAINYARD_PG_FAST:-0}" = 1 ]; then
    printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n' >> "$PGDATA/postgresql.conf"
  fi
}

# Passwords are made once, 32 random alphanumerics, and never printed.
secret_ensure() { # file name under var/secrets
  local f=$SECRETS/$1
  [ -s "$f" ] && return 0
  (umask 077 && head -c 96 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 32 > "$f.tmp")
  mv "$f.tmp" "$f"
}

secrets_ensure() {
  mkdir -p "$SECRETS"
  chmod 700 "$SECRETS"
  secret_ensure pg-owner.password
  secret_ensure pg-app.password
  # libpq's passfile (it ignores one that others can read).
  local tmp=$SECRETS/pgpass.tmp
  (umask 077 && {
    printf '*:*:*:%s:%s\n' "$OWNER_ROLE" "$(cat "$SECRETS/pg-owner.password")"
    printf '*:*:*:%s:%s\n' "$APP_ROLE" "$(cat "$SECRETS/pg-app.password")"
  } > "$tmp")
  mv "$tmp" "$PGPASSFILE_PATH"
  chmod 600 "$SECRETS"/*
}

# pg_hba.conf and pg_ident.conf as this version wants them: the superuser by
# peer authentication only (as the cluster's OS user, which is how this
# script administers it), everyone else by SCRAM password, no trust anywhere.
# Returns 0 if a file changed (the server then needs a reload).
pg_auth_write() {
  local hba ident changed=1
  hba="# written by trainyard's scripts/stack.sh; rewritten on every start
# TYPE  DATABASE  USER      ADDRESS       METHOD
local   all       postgres                peer map=owner
local   all       all                     scram-sha-256
host    all       all       127.0.0.1/32  scram-sha-256
host    all       all       ::1/128       scram-sha-256"
  ident="# written by trainyard's scripts/stack.sh
owner   $PG_USER   postgres"
  if [ "$(cat "$PGDATA/pg_hba.conf" 2>/dev/null)" != "$hba" ]; then
    grep -q '^[^#]*trust' "$PGDATA/pg_hba.conf" 2>/dev/null &&
      say "converting $PGDATA from trust to password (SCRAM) authentication"
    printf '%s\n' "$hba" > "$PGDATA/pg_hba.conf"
    changed=0
  fi
  if [ "$(cat "$PGDATA/pg_ident.conf" 2>/dev/null)" != "$ident" ]; then
    printf '%s\n' "$ident" > "$PGDATA/pg_ident.conf"
    changed=0
  fi
  if [ "$IS_ROOT" -eq 1 ]; then chown "$PG_USER": "$PGDATA/pg_hba.conf" "$PGDATA/pg_ident.conf"; fi
  chmod 600 "$PGDATA/pg_hba.conf" "$PGDATA/pg_ident.conf"
  return $changed
}

# The owner and application roles, their passwords (from var/secrets/) and
# the database; run as the superuser on every start, so that a var/ from an
# older version (one passwordless owner role) gains the application role.
pg_roles() {
  local psql_su=("$PG_BIN/psql" -X -q -h "$PG_SOCKDIR" -p "$PG_PORT" -U postgres -d postgres
                 -v ON_ERROR_STOP=1 -v owner="$OWNER_ROLE" -v app="$APP_ROLE")
  as_pg "${psql_su[@]}" -v owner_pw="$(cat "$SECRETS/pg-owner.password")" \
    -v app_pw="$(cat "$SECRETS/pg-app.password")" >/dev/null <<'SQL' || die "could not set up the database roles"
SELECT format('CREATE ROLE %I', r) FROM unnest(ARRAY[:'owner', :'app']) r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L',
              :'owner', :'owner_pw') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT PASSWORD %L',
              :'app', :'app_pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', 'trainyard', :'owner')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'trainyard') \gexec
SQL
}

pg_start() {
  layout
  pg_init
  secrets_ensure
  ensure_traverse "$PG_USER" "$PGDATA"
  # The socket directory is private to the cluster's OS user (root reaches
  # it anyway): no other local user can even try to log in.
  mkdir -p "$PG_SOCKDIR"
  [ "$IS_ROOT" -eq 1 ] && chown "$PG_USER": "$PG_SOCKDIR"
  chmod 700 "$PG_SOCKDIR"
  touch "$LOG/postgres.log"
  [ "$IS_ROOT" -eq 1 ] && chown "$PG_USER": "$LOG/postgres.log"
  local auth_changed=0
  pg_auth_write && auth_changed=1
  if ! pg_running; then
    if port_busy "$PG_PORT"; then
      die "port $PG_PORT is taken (set TRAINYARD_PG_PORT to another port)"
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$LOG/postgres.log" -w -t 60 \
      -o "-p $PG_PORT -k $PG_SOCKDIR -c listen_addresses=127.0.0.1" start >/dev/null \
      || { tail -n 20 "$LOG/postgres.log" >&2; die "PostgreSQL did not start"; }
  elif [ "$auth_changed" -eq 1 ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" reload >/dev/null || die "PostgreSQL did not reload pg_hba.conf"
    # Parts started by an older version still hold the old, passwordless URL:
    # their next connection would be refused.
    if pid_alive "$RUN/api.pid" trainyard-api || ls "$RUN"/trainer-*.pid >/dev/null 2>&1; then
      say "PostgreSQL now requires passwords; the API and trainers that are running use the old"
      say "URL: run 'make stop && make start' (or scripts/stack.sh restart) to restart them"
    fi
  fi
  pg_roles
  write_env
}

pg_stop() {
  if pg_running; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null || true
  fi
}

# --- the application ----------------------------------------------------------

app_env() {
  export TRAINYARD_DATABASE_URL=$DB_URL
  export TRAINYARD_SOCKET=$API_SOCKET
  export TRAINYARD_WORKERS=$WORKERS
  [ -n "$WEB_GROUP" ] && export TRAINYARD_SOCKET_GROUP=$WEB_GROUP
  export TRAINYARD_VAR=$VAR
  # nginx hands large bodies over by path (nginx/trainyard.conf.in); the API
  # accepts paths under this directory only.
  export TRAINYARD_BODY_DIR=$NGX/tmp/client_body
  return 0
}

# Migrations run as the owner role; everything else as the application role.
migrate() {
  have_bin trainyard || { say "no $BUILD/trainyard yet: migrations skipped"; return 0; }
  app_env
  TRAINYARD_DATABASE_URL=$OWNER_DB_URL "$BUILD/trainyard" migrate >>"$LOG/migrate.log" 2>&1 \
    || { tail -n 20 "$LOG/migrate.log" >&2; die "migrations failed: see $LOG/migrate.log"; }
}

dev_key() {
  [ -s "$VAR/dev-api-key" ] && return 0
  have_bin trainyard || return 0
  app_env
  local key
  key=$("$BUILD/trainyard" workspace create dev 2>>"$LOG/migrate.log") \
    || key=$("$BUILD/trainyard" key create dev 2>>"$LOG/migrate.log") \
    || die "could not create the dev workspace or key: see $LOG/migrate.log"
  key=$(printf '%s\n' "$key" | tail -n1 | tr -d '[:space:]')
  [ -n "$key" ] || die "the CLI printed no key for the dev workspace"
  (umask 077 && printf '%s\n' "$key" > "$VAR/dev-api-key")
}

api_start() {
  have_bin trainyard-api || { say "no $BUILD/trainyard-api yet: API skipped"; return 0; }
  pid_alive "$RUN/api.pid" trainyard-api && return 0
  rm -f "$API_SOCKET"
  app_env
  spawn api trainyard-api "$BUILD/trainyard-api"
  local i
  for ((i = 0; i < 100; i++)); do
    [ -S "$API_SOCKET" ] && break
    # Gone, not merely "cmdline does not match": the API re-executes itself
    # once at start, and /proc/PID/cmdline can read empty during an exec.
    proc_gone "$(cat "$RUN/api.pid")" && { tail -n 20 "$LOG/api.log" >&2; die "the API exited at start"; }
    sleep 0.1
  done
  [ -S "$API_SOCKET" ] || die "the API did not open $API_SOCKET: see $LOG/api.log"
  # nginx's workers reach the socket through their group (0660).
  if [ -n "$WEB_GROUP" ]; then
    chgrp "$WEB_GROUP" "$API_SOCKET" 2>/dev/null || true
    chmod 0660 "$API_SOCKET" 2>/dev/null || true
  fi
}

trainers_start() {
  have_bin trainyard-trainer || { say "no $BUILD/trainyard-trainer yet: trainer skipped"; return 0; }
  app_env
  [ -n "${TRAINYARD_TRAINER_SLOTS:-}" ] && export TRAINYARD_TRAINER_SLOTS
  local n
  for ((n = 1; n <= TRAINERS; n++)); do
    spawn "trainer-$n" trainyard-trainer "$BUILD/trainyard-trainer"
  done
}

# --- nginx --------------------------------------------------------------------

nginx_render() {
  # The web console as web/build.sh built it (make build), else the plain page.
  if [ -f "$BUILD/www/index.html" ]; then
    rm -rf "$NGX/www" && mkdir -p "$NGX/www" && cp -R "$BUILD"/www/. "$NGX/www/"
  else
    cp "$ROOT"/nginx/www/* "$NGX/www/"
  fi
  chmod -R a+rX "$NGX/www"
  local user_line=""
  [ -n "$WEB_USER" ] && user_line="user $WEB_USER $WEB_GROUP;"
  NGINX_PREFIX=$NGX NGINX_LISTEN=127.0.0.1:$PORT NGINX_API_SOCKET=$API_SOCKET \
  NGINX_WWW_DIR=$NGX/www NGINX_LOG_DIR=$LOG NGINX_USER_LINE=$user_line \
  NGINX_UPLOAD_LIMIT=${TRAINYARD_UPLOAD_LIMIT:-2g} \
  NGINX_RATE_LIMIT=$RATE_LIMIT NGINX_WORKERS=${TRAINYARD_NGINX_WORKERS:-1} \
  NGINX_ACCESS_LOG=${TRAINYARD_NGINX_ACCESS_LOG:-$LOG/nginx-access.log combined buffer=64k flush=1s} \
    "$ROOT/nginx/render.sh" > "$NGX/nginx.conf.tmp"
  mv "$NGX/nginx.conf.tmp" "$NGX/nginx.conf"
}

# nginx's logs written before its error log was filtered (and before the
# access log masked a bare /kaos/<key>) may hold keys: masked once, while
# nginx is stopped (sed -i replaces the file nginx would still write to).
nginx_logs_mask_keys() {
  local f mark=$LOG/.nginx-keys-masked
  [ -e "$mark" ] && return 0
  for f in "$LOG"/nginx-error.log* "$LOG"/nginx-access.log*; do
    [ -f "$f" ] && sed -i -E -f "$ROOT/nginx/redact.sed" "$f"
  done
  : > "$mark"
}

nginx_start() {
  layout
  pid_alive "$RUN/nginx.pid" nginx && return 0
  port_busy "$PORT" && die "port $PORT is taken (set TRAINYARD_PORT to another port)"
  nginx_render
  [ -n "$WEB_USER" ] && { ensure_traverse "$WEB_USER" "$NGX/www"; ensure_traverse "$WEB_USER" "$RUN"; }
  "$NGINX_BIN" -t -q -p "$NGX" -e stderr -c "$NGX/nginx.conf" 2>>"$LOG/nginx-error.log" \
    || { tail -n 5 "$LOG/nginx-error.log" >&2; die "nginx rejected $NGX/nginx.conf"; }
  nginx_logs_mask_keys
  REDACTED_STDERR=$LOG/nginx-error.log \
    spawn nginx nginx "$NGINX_BIN" -p "$NGX" -e stderr -c "$NGX/nginx.conf"
  local i
  for ((i = 0; i < 100; i++)); do
    port_busy "$PORT" && return 0
    proc_gone "$(cat "$RUN/nginx.pid")" && break
    sleep 0.1
  done
  tail -n 10 "$LOG/nginx.log" "$LOG/nginx-error.log" >&2 || true
  die "nginx did not start"
}

# --- logs -----------------------------------------------------------------------

# Size-based rotation: a log over TRAINYARD_LOG_MAX_MB (50) becomes NAME.1,
# older ones shift up to TRAINYARD_LOG_KEEP (3) generations. The daemons
# started here write to their log through an O_APPEND descriptor they keep,
# so those logs are copied and truncated in place (a line written between the
# copy and the truncation can be lost), nginx's error log too (its writer is
# the redacting sed); nginx's access log is renamed and nginx reopens it on
# SIGUSR1. Runs on every start, every minute under `run`, and on
# `rotate-logs` (make rotate-logs, e.g. from cron).
LOG_MAX_MB=${TRAINYARD_LOG_MAX_MB:-50}
LOG_KEEP=${TRAINYARD_LOG_KEEP:-3}

log_shift() { # file
  local f=$1 i
  rm -f "$f.$LOG_KEEP"
  for ((i = LOG_KEEP - 1; i >= 1; i--)); do
    [ -e "$f.$i" ] && mv -f "$f.$i" "$f.$((i + 1))"
  done
  return 0
}

rotate_logs() {
  local f limit=$((LOG_MAX_MB * 1024 * 1024)) reopen=0 size
  [ -d "$LOG" ] || return 0
  for f in "$LOG"/*.log; do
    [ -f "$f" ] || continue
    size=$(stat -c %s "$f" 2>/dev/null || echo 0)
    [ "$size" -gt "$limit" ] || continue
    log_shift "$f"
    case "$(basename "$f")" in
      nginx-access.log)
        if pid_alive "$RUN/nginx.pid" nginx; then
          mv -f "$f" "$f.1"
          reopen=1
        else
          mv -f "$f" "$f.1"
        fi ;;
      *)
        cp -p "$f" "$f.1" && : > "$f" ;;
    esac
    say "rotated $f ($((size / 1024 / 1024)) MB)"
  done
  if [ "$reopen" -eq 1 ]; then
    kill -USR1 "$(cat "$RUN/nginx.pid")" 2>/dev/null || true
  fi
  return 0
}

# --- the whole stack ----------------------------------------------------------

# Waits until the stack serves requests: /healthz 200, or at least an answer
# from the API (a 503 while the first trainer has not reported in yet).
wait_served() {
  local code="" i
  if ! have_bin trainyard-api; then
    code=$(http_code "$BASE_URL/")
    [ "$code" = 200 ] || die "nginx does not serve $BASE_URL/ (HTTP $code)"
    return 0
  fi
  for ((i = 0; i < 300; i++)); do
    code=$(http_code "$BASE_URL/healthz")
    [ "$code" = 200 ] && return 0
    # Without trainers /healthz stays 503: an answer from the API is enough.
    # (nginx's own 503 for an unreachable socket says "service unavailable".)
    if [ "$TRAINERS" -eq 0 ] && [ "$code" = 503 ] &&
       ! curl -s -m 5 "$BASE_URL/healthz" | grep -q '"service unavailable"'; then
      return 0
    fi
    sleep 0.1
  done
  case "$code" in
    000|502|504|"") tail -n 20 "$LOG/api.log" >&2; die "the stack does not answer on $BASE_URL (HTTP $code)";;
    *) say "warning: $BASE_URL/healthz answers $code; continuing";;
  esac
}

lock() {
  exec 9>"$VAR/.stack.lock"
  flock -w 300 9 || die "another stack.sh holds $VAR/.stack.lock"
}
unlock() { exec 9>&-; }

stack_start() {
  lock
  layout
  rotate_logs
  pg_start
  migrate
  dev_key
  api_start
  trainers_start
  nginx_start
  write_env
  wait_served
  unlock
}

stack_stop() {
  lock
  stop_pid nginx nginx 10
  stop_pid api trainyard-api 15
  local f
  for f in "$RUN"/trainer-*.pid; do
    [ -e "$f" ] || continue
    stop_pid "$(basename "$f" .pid)" trainyard-trainer 40
  done
  pg_stop
  rm -f "$API_SOCKET"
  unlock
}

banner() {
  local key="(none yet: build/trainyard is missing)"
  [ -s "$VAR/dev-api-key" ] && key=$(cat "$VAR/dev-api-key")
  cat <<EOF

  trainyard is up
    base URL      $BASE_URL
    dev API key   $key        (also in ${VAR#$ROOT/}/dev-api-key)
    database      source ${VAR#$ROOT/}/env; psql "\$TRAINYARD_DATABASE_URL"   (or: make psql)
    logs          ${LOG#$ROOT/}/

  try:  curl -H "X-API-Key: $key" $BASE_URL/api/v1/datasets
  KAOS: kaos init -e $BASE_URL/kaos/$key -t $key

EOF
}

status() {
  local name match f
  for f in nginx api; do
    match=$f; [ "$f" = api ] && match=trainyard-api
    if pid_alive "$RUN/$f.pid" "$match"; then echo "$f: running (pid $(cat "$RUN/$f.pid"))"
    else echo "$f: stopped"; fi
  done
  for f in "$RUN"/trainer-*.pid; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .pid)
    if pid_alive "$f" trainyard-trainer; then echo "$name: running (pid $(cat "$f"))"
    else echo "$name: stopped"; fi
  done
  if pg_running; then echo "postgres: running (port $PG_PORT)"; else echo "postgres: stopped"; fi
}

# Foreground: start, follow the logs, stop everything on Ctrl-C or when a
# part dies.
run() {
  local tail_pid="" stopping=0
  on_signal() {
    [ "$stopping" -eq 1 ] && return
    stopping=1
    echo >&2
    say "stopping"
    [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
    stack_stop
    say "stopped"
    exit 0
  }
  trap on_signal INT TERM HUP
  stack_start
  banner
  if [ "${TRAINYARD_QUIET:-0}" != 1 ]; then
    tail -q -n0 -F "$LOG/api.log" "$LOG"/trainer-*.log 2>/dev/null &
    tail_pid=$!
  fi
  local f died="" ticks=0
  while :; do
    sleep 1 &
    wait $! || true
    ticks=$((ticks + 1))
    [ $((ticks % 60)) -eq 0 ] && rotate_logs
    died=""
    pid_alive "$RUN/nginx.pid" nginx || died="nginx"
    if have_bin trainyard-api; then pid_alive "$RUN/api.pid" trainyard-api || died="$died api"; fi
    for f in "$RUN"/trainer-*.pid; do
      [ -e "$f" ] || continue
      pid_alive "$f" trainyard-trainer || died="$died $(basename "$f" .pid)"
    done
    pg_running || died="$died postgres"
    if [ -n "$died" ]; then
      stopping=1
      [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
      say "exited unexpectedly:$died (logs in $LOG); stopping the rest"
      stack_stop
      exit 1
    fi
  done
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  run) run ;;
  start) stack_start; banner ;;
  stop) stack_stop ;;
  restart) stack_stop; stack_start; banner ;;
  status) status ;;
  psql)
    pg_running || die "PostgreSQL is not running (make start)"
    exec psql "$DB_URL" "$@" ;;
  env) cat "$VAR/env" ;;
  rotate-logs) lock; rotate_logs; unlock ;;
  pg-start) lock; pg_start; unlock ;;
  pg-stop) pg_stop ;;
  pg-restart)
    pg_running && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$LOG/postgres.log" -m fast -w -t 60 \
      -o "-p $PG_PORT -k $PG_SOCKDIR -c listen_addresses=127.0.0.1" restart >/dev/null \
      || pg_start ;;
  nginx-start) nginx_start ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
    exit 2 ;;
esac
