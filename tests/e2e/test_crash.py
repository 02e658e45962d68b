"""The crash path, with the trainer's test mode (scripts/e2e.sh starts the
stack with TRAINYARD_TEST_MODE=1): a spec's "test_mode" makes the job's
worker sleep, die by a signal, exit with a code or exhaust its memory limit,
after its data is loaded. Each outcome is checked end to end: retried while
attempts remain, the final error, no model written, the worker gone; and a
trainer not in test mode ignores the field."""
import os
import re
import time

import pytest

from conftest import FINAL_STATES


@pytest.fixture(scope="module")
def small(make_workspace, churn_csv):
    """A workspace of the module's own with a small dataset."""
    _, _, c = make_workspace("crash")
    csv = "\n".join(churn_csv.splitlines()[:101]) + "\n"
    return c, c.upload_csv(csv, name="crash")["dataset_id"]


def submit(client, ds, test_mode, **extra):
    return client.train(ds, ["churn"], duration=10, force=True, test_mode=test_mode, **extra)


def row(sql, job):
    state, attempts, error, models = sql(
        "SELECT state, attempts, error, (SELECT count(*) FROM models m WHERE m.job_id = j.id) "
        "FROM jobs j WHERE id = :'p1'", job)[0]
    return state, int(attempts), error, int(models)


def worker_pids(sql, job):
    """The pid each attempt's worker logged as it started misbehaving."""
    lines = [r[0] for r in sql("SELECT line FROM job_logs WHERE job_id = :'p1' ORDER BY id", job)]
    return [int(m.group(1)) for m in (re.search(r"test mode \(pid (\d+)\)", l) for l in lines) if m]


def gone(pid):
    """No such process, or one that is not a trainyard worker any more
    (the pid was reused): /proc/<pid>/cmdline names it."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return not f.read().startswith(b"trainyard-job")
    except OSError:
        return True


@pytest.mark.parametrize("sig", [9, 11])
def test_crash_by_signal_is_retried_then_fails(small, sql, sig):
    c, ds = small
    task = submit(c, ds, {"crash_signal": sig})
    st = c.wait(task, timeout=180)
    assert st["status"] == "FAILED", st
    state, attempts, error, models = row(sql, task)
    assert (state, attempts, models) == ("failed", 3, 0)
    assert error == "training process crashed (signal %d) on attempt 3 of 3" % sig
    pids = worker_pids(sql, task)
    assert len(pids) == 3 and len(set(pids)) == 3, pids  # one worker per attempt
    assert all(gone(p) for p in pids), pids
    # The runner said what it ran under before it went down with the signal.
    logs = [r[0] for r in sql("SELECT line FROM job_logs WHERE job_id = :'p1'", task)]
    assert sum(("training process ended by signal %d (memory limit" % sig) in l
               for l in logs) == 3, logs
    # Akkio's result for a failed task: no model.
    r = c.get("/api/v1/models/train/%s/result" % task)
    assert "model_id" not in r.text


@pytest.mark.skipif(os.environ.get("TRAINYARD_E2E_ASAN") == "1",
                    reason="the sanitizer run has no address-space limit (ASan's shadow)")
def test_memory_bomb_hits_the_limit_and_fails(small, sql):
    c, ds = small
    task = submit(c, ds, {"memory_bomb": True})
    st = c.wait(task, timeout=180)
    assert st["status"] == "FAILED", st
    state, attempts, error, models = row(sql, task)
    assert (state, attempts, models) == ("failed", 3, 0)
    # Out of address space the worker aborts, as the engine does on a failed
    # allocation; the log names the memory limit it hit.
    assert error == "training process crashed (signal 6) on attempt 3 of 3"
    logs = [r[0] for r in sql("SELECT line FROM job_logs WHERE job_id = :'p1'", task)]
    assert any(re.fullmatch(r"training process ended by signal 6 \(memory limit \d+ [GM]iB\)",
                            l) for l in logs), logs
    assert all(gone(p) for p in worker_pids(sql, task))


def test_nonzero_exit_fails_at_once(small, sql):
    c, ds = small
    task = submit(c, ds, {"exit_code": 7})
    st = c.wait(task, timeout=120)
    assert st["status"] == "FAILED", st
    state, attempts, error, models = row(sql, task)
    # An exit the worker chose is the job's own failure, not a crash: no retry.
    assert (state, attempts, error, models) == \
        ("failed", 1, "training process exited with status 7", 0)
    assert all(gone(p) for p in worker_pids(sql, task))


def test_sleep_then_success(small, sql):
    c, ds = small
    task = submit(c, ds, {"sleep": 1})
    st = c.wait(task, timeout=120)
    assert st["status"] == "SUCCEEDED", st
    state, attempts, error, models = row(sql, task)
    assert (state, attempts, error, models) == ("succeeded", 1, None, 1)


def test_kill_while_sleeping(small, sql, stack):
    c, ds = small
    task = submit(c, ds, {"sleep": 60})
    deadline = time.time() + 60
    while time.time() < deadline and not worker_pids(sql, task):
        time.sleep(0.2)
    pids = worker_pids(sql, task)
    assert len(pids) == 1, pids
    assert not gone(pids[0])
    ws = sql("SELECT w.name FROM jobs j JOIN workspaces w ON w.id = j.workspace_id "
             "WHERE j.id = :'p1'", task)[0][0]
    r = c.delete("/train/%s/%s" % (ws, task))
    assert r.status_code == 200, r.text
    st = c.wait(task, timeout=60)
    assert st["status"] == "FAILED", st
    state, attempts, error, models = row(sql, task)
    assert (state, attempts, error, models) == ("killed", 1, "killed", 0)
    deadline = time.time() + 10
    while time.time() < deadline and not gone(pids[0]):
        time.sleep(0.1)
    assert gone(pids[0])


def test_trainer_without_test_mode_ignores_it(small, sql, trainers, main_trainer_paused):
    c, ds = small
    trainers.start(1, slots=1, extra_env={"TRAINYARD_TEST_MODE": "0"})
    task = submit(c, ds, {"crash_signal": 9})
    st = c.wait(task, timeout=120)
    assert st["status"] == "SUCCEEDED", st
    assert row(sql, task) == ("succeeded", 1, None, 1)
    assert worker_pids(sql, task) == []
