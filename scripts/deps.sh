#!/usr/bin/env bash
# deps.sh — installs the Debian packages trainyard needs, only those missing.
# Idempotent and quiet when everything is there; uses sudo when not root.
set -euo pipefail

packages=(
  build-essential pkg-config
  libfcgi-dev libjson-c-dev libxml2-dev libpq-dev libarchive-dev libssl-dev
  libxgboost-dev check
  postgresql-15 postgresql-contrib nginx-light curl
  python3 python3-pytest python3-requests python3-xgboost python3-pandas python3-yaml
  wrk clang libclang-rt-14-dev
  # promtool checks /metrics; node (its npm) runs the OpenAPI validator and client
  # (tests/openapi); jq runs the README walk (tests/e2e/test_readme.py)
  prometheus nodejs jq
  # the sandbox runner (trainer/sandbox.c) and what user code trains with
  bubblewrap libseccomp-dev python3-sklearn python3-numpy python3-pandas
  # the web console's browser tests (tests/browser: Debian's headless
  # chromium driven by puppeteer-core)
  chromium fonts-dejavu-core
  # the terminal client's HTTP (cli/http.c) and its interactive test (tests/e2e/test_cli.py)
  libcurl4-openssl-dev tmux
)
# The web console's build (web/build.sh) needs node and npm: Debian's unless
# some node is there already (NodeSource's nodejs ships its own npm and
# conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

# `deps.sh bench`: also what the benchmarks' Python peer runs on
# (../shared/peers/fastapi_celery/run.sh names these).
if [ "${1:-}" = bench ]; then
  packages+=(python3-fastapi python3-uvicorn python3-uvloop python3-httptools
             python3-asyncpg python3-celery python3-redis python3-hiredis
             python3-psycopg2 redis-server jq)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ "$status" == ii* ]] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
# nginx's and PostgreSQL's packages try to start system services; trainyard
# runs its own instances under var/, so keep the system ones from starting.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  created_policy=1
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
[ "$created_policy" -eq 1 ] && $sudo rm -f "$policy"
exit 0
