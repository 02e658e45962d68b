#!/usr/bin/env bash
# accounts.sh — 0040 migrates existing data without loss (tests/db/run.sh
# calls it with the owner's URL).
#
# In a scratch schema (searched before public), the migrations before 0040
# build the old shape; two workspaces with keys, a job and a dataset go in;
# then 0040 runs. Each workspace must have become an account of its own with
# that workspace as its default, keys must belong to that account and still
# point at the same workspace, nothing else changes; a workspace inserted the
# old way still gets an account; names become unique per account only.
set -u
: "${TRAINYARD_OWNER_DATABASE_URL:?set TRAINYARD_OWNER_DATABASE_URL (scratch database)}"
S=mig_accounts_$$
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
q() { psql "$TRAINYARD_OWNER_DATABASE_URL" -X -q -At -v ON_ERROR_STOP=1 \
        -c "SET search_path = $S, public" -c "$1"; }

psql "$TRAINYARD_OWNER_DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $S" || exit 1
trap 'psql "$TRAINYARD_OWNER_DATABASE_URL" -X -q -c "DROP SCHEMA $S CASCADE" >/dev/null 2>&1' EXIT
before=()
for f in sql/0*.sql; do
    case "$(basename "$f")" in 0040_*|0041_*|005*|006*|007*|008*|009*) continue ;; esac
    before+=("$f")
done
{ echo "SET search_path = $S, public;"; cat "${before[@]}"; } |
    psql "$TRAINYARD_OWNER_DATABASE_URL" -X -q -1 -v ON_ERROR_STOP=1 >"${TMPDIR:-/tmp}/accounts-$$.log" 2>&1 ||
    { tail -5 "${TMPDIR:-/tmp}/accounts-$$.log"; echo "accounts.sh: the migrations before 0040 did not apply in a schema"; exit 1; }
q "INSERT INTO workspaces (name) VALUES ('alpha'), ('beta')" || exit 1
q "INSERT INTO api_keys (workspace_id, prefix, hash) SELECT id, 'p' || name, '\\x00' FROM workspaces" || exit 1
q "INSERT INTO jobs (workspace_id, dialect) SELECT id, 'akkio' FROM workspaces WHERE name = 'beta'" || exit 1
snap="SELECT w.name, k.prefix, (SELECT count(*) FROM jobs j WHERE j.workspace_id = w.id) FROM workspaces w JOIN api_keys k ON k.workspace_id = w.id ORDER BY 1"
old=$(q "$snap")
{ echo "SET search_path = $S, public;"; cat sql/0040_kaos.sql; } |
    psql "$TRAINYARD_OWNER_DATABASE_URL" -X -q -1 -v ON_ERROR_STOP=1 >/dev/null || { echo "accounts.sh: 0040 failed"; exit 1; }
[ "$(q "$snap")" = "$old" ] || fail "workspaces, keys or jobs changed: $(q "$snap")"
[ "$(q "SELECT a.name || '=' || w.name FROM accounts a JOIN workspaces w ON w.id = a.default_workspace_id AND w.account_id = a.id ORDER BY 1" | tr '\n' ' ')" = "alpha=alpha beta=beta " ] \
    || fail "each workspace is not its own account's default: $(q 'SELECT * FROM accounts')"
[ "$(q "SELECT count(*) FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id WHERE k.account_id = w.account_id")" = 2 ] \
    || fail "keys do not belong to their workspace's account"
q "INSERT INTO workspaces (name) VALUES ('gamma')" >/dev/null || fail "an old-style insert is refused"
[ "$(q "SELECT count(*) FROM accounts a JOIN workspaces w ON w.account_id = a.id AND a.default_workspace_id = w.id WHERE a.name = 'gamma'")" = 1 ] \
    || fail "an old-style workspace got no account of its own"
q "INSERT INTO workspaces (name, account_id) SELECT 'gamma', id FROM accounts WHERE name = 'alpha'" >/dev/null \
    || fail "another account cannot use the name gamma"
q "INSERT INTO workspaces (name, account_id) SELECT 'gamma', id FROM accounts WHERE name = 'alpha'" >/dev/null 2>&1 \
    && fail "an account has two workspaces named gamma"
[ "$fails" -eq 0 ] && echo "accounts.sh: 0040 migrated workspaces and keys into accounts without loss"
exit "$fails"
