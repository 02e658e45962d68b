"""The local stack itself: least privilege in PostgreSQL (no trust, a private
socket, passwords kept 0600, an application role that owns nothing), the CLI
finding the stack named by TRAINYARD_VAR, and log rotation."""
import os
import stat
import subprocess
import time
import urllib.parse

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_app_connects_as_a_role_that_owns_nothing(sql):
    user, su, createrole, createdb = sql(
        "SELECT current_user, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
        " WHERE rolname = current_user")[0]
    assert user == "trainyard_app"
    assert (su, createrole, createdb) == ("f", "f", "f")
    owned = sql("SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
                " WHERE r.rolname = current_user")[0][0]
    assert owned == "0"


@pytest.mark.parametrize("stmt", ["CREATE TABLE t_refused (a int)", "DROP TABLE jobs",
                                  "TRUNCATE job_logs", "DELETE FROM schema_migrations",
                                  "CREATE ROLE nope", "ALTER TABLE jobs ADD COLUMN x int"])
def test_app_role_cannot_change_the_schema(sql, stmt):
    with pytest.raises(AssertionError, match="permission denied|must be owner"):
        sql(stmt)


def test_postgres_trusts_no_one_and_hides_its_socket(stack):
    hba = open(os.path.join(stack.var, "pg", "pg_hba.conf")).read()
    rules = [l.split() for l in hba.splitlines() if l.strip() and not l.startswith("#")]
    assert rules and all(r[-1] != "trust" and "trust" not in r for r in rules), rules
    # The URL names the socket directory and a passfile, never a password.
    u = urllib.parse.urlparse(stack.db_url)
    assert u.password is None
    sockdir = urllib.parse.unquote(u.hostname or u.netloc.split("@")[1].rsplit(":", 1)[0])
    assert mode(sockdir) == 0o700, oct(mode(sockdir))
    passfile = urllib.parse.parse_qs(u.query)["passfile"][0]
    assert mode(passfile) == 0o600 and mode(os.path.dirname(passfile)) == 0o700
    for name in os.listdir(os.path.dirname(passfile)):
        assert mode(os.path.join(os.path.dirname(passfile), name)) == 0o600, name


def test_password_is_required(stack):
    u = urllib.parse.urlparse(stack.db_url)
    bare = stack.db_url.split("?")[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSFILE"] = "/nonexistent"
    for url in (bare, bare.replace("trainyard_app@", "postgres@")):
        p = subprocess.run(["psql", "-X", "-w", "-Atc", "SELECT 1", url], env=env,
                           capture_output=True, text=True, timeout=30)
        assert p.returncode != 0, (url, p.stdout)
    assert u.username == "trainyard_app"


def test_cli_reads_the_env_file_of_trainyard_var(stack, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env["TRAINYARD_VAR"] = stack.var
    p = subprocess.run([os.path.join(stack.build, "trainyard"), "jobs", "1"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    # A state dir without an env file: no falling back to the checkout's var/.
    env["TRAINYARD_VAR"] = str(tmp_path)
    p = subprocess.run([os.path.join(stack.build, "trainyard"), "jobs", "1"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "no database" in p.stderr, (p.returncode, p.stderr)


def test_up_to_date_migrate_is_a_no_op_even_for_the_app_role(stack):
    # (A trainer started with --migrate=1 on the application's URL.)
    env = stack.proc_env()
    env.pop("TRAINYARD_OWNER_DATABASE_URL", None)
    p = subprocess.run([os.path.join(stack.build, "trainyard"), "migrate"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "0 migration(s)" in p.stderr, p.stderr


def test_rotate_logs(stack):
    logs = [os.path.join(stack.var, "log", n) for n in ("api.log", "nginx-error.log")]
    for log in logs:
        with open(log, "a") as f:
            f.write("x" * (1024 * 1024 + 10) + "\n")
    env = stack.proc_env()
    env["TRAINYARD_LOG_MAX_MB"] = "1"
    p = subprocess.run([os.path.join(ROOT, "scripts", "stack.sh"), "rotate-logs"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    for log in logs:
        assert os.path.getsize(log + ".1") > 1024 * 1024
        assert os.path.getsize(log) < 1024 * 1024
    # nginx's error log is still written where it was (its writer is the
    # redacting filter, which keeps its descriptor): a body over nginx's
    # buffer is logged as it goes to a temporary file.
    mark = "rotated%d" % os.getpid()
    requests.post(stack.base_url + "/v1/datasets?" + mark, data=b"x" * 600000, timeout=30)
    for _ in range(50):
        if mark in open(logs[1], errors="replace").read():
            break
        time.sleep(0.1)
    else:
        pytest.fail("no line about the request in the rotated nginx-error.log")


@pytest.mark.parametrize("line,want", [
    ('request: "GET /v1/models?x=1&API%5fKEY=ty_a&api_key=ty_b HTTP/1.1", host: "h"',
     'request: "GET /v1/models?x=1&API%5fKEY=REDACTED&api_key=REDACTED HTTP/1.1", host: "h"'),
    ('request: "POST /kaos/ty_c/train/w HTTP/1.1", referrer: "http://h/e?Ticket=t1&a=2"',
     'request: "POST /kaos/REDACTED/train/w HTTP/1.1", referrer: "http://h/e?Ticket=REDACTED&a=2"'),
    ('request: "GET /kaos/ty_d HTTP/1.1"', 'request: "GET /kaos/REDACTED HTTP/1.1"'),
    ('request: "GET /v1/models?tickets=1&my_api_key=2 HTTP/1.1"',
     'request: "GET /v1/models?tickets=1&my_api_key=2 HTTP/1.1"'),
])
def test_error_log_filter_masks_keys(line, want):
    p = subprocess.run(["stdbuf", "-oL", "sed", "-E", "-f",
                        os.path.join(ROOT, "nginx", "redact.sed")],
                       input=line + "\n", capture_output=True, text=True, check=True)
    assert p.stdout == want + "\n"


def test_metrics_counts_come_from_the_counters_and_agree(anon, sql):
    import re as _re
    import time as _time
    for _ in range(20):
        before = sql("SELECT state, count(*) FROM jobs GROUP BY state")
        r = anon.get("/metrics")
        after = sql("SELECT state, count(*) FROM jobs GROUP BY state")
        assert r.status_code == 200
        if before != after:
            _time.sleep(0.2)
            continue
        shown = {m.group(1): int(m.group(2)) for m in
                 _re.finditer(r'^trainyard_jobs\{state="(\w+)"\} (\d+)$', r.text, _re.M)}
        counted = {s: int(n) for s, n in before}
        assert {s: n for s, n in shown.items() if n} == counted, (shown, counted)
        break
    else:
        pytest.skip("jobs kept changing under the scrape")
    # The scrape folded the deltas: what is left is only what arrived since.
    assert int(sql("SELECT count(*) FROM job_count_deltas")[0][0]) < 1000


def test_old_var_is_converted_and_restarts_back_to_back(stack):
    """A var/ from before least privilege (trust, one passwordless role): `start`
    converts it and keeps its data; stop then start works three times running.
    Runs its own stack (tests/stack/upgrade.sh)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env["TRAINYARD_BUILD"] = stack.build
    p = subprocess.run([os.path.join(ROOT, "tests", "stack", "upgrade.sh")], env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
