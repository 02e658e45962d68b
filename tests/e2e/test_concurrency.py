"""Identical submissions racing each other: eight parallel requests, each on
a connection of its own (so that they reach different API workers), must
yield one job (Akkio's identical-request dedupe) or one document (Strapi's
uuid replay), everyone answered with it. Counted in the test's own
workspace."""
import threading
import uuid

import pytest

N = 8


def race(fn):
    """Runs fn N times at once (released together by a barrier)."""
    barrier = threading.Barrier(N)
    out = [None] * N

    def run(i):
        barrier.wait()
        out[i] = fn()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


@pytest.fixture
def mine(make_workspace, churn_csv, stack):
    name, key, client = make_workspace("race")
    ds = client.upload_csv(churn_csv, name="race")["dataset_id"]
    ws = stack.sql_value("SELECT id FROM workspaces WHERE name = :'p1'", name)
    return name, key, client, ds, ws


def fresh(client):
    """A client of the same key with a connection pool of its own."""
    from conftest import Client
    return Client(client.base_url, client.key)


def test_parallel_identical_akkio_submissions_are_one_job(mine, sql):
    name, key, client, ds, ws = mine
    # A job that sleeps (test mode) stays unfinished while the race runs:
    # every request meets the same job in progress.
    body = {"dataset_id": ds, "predict_fields": ["churn"], "duration": 10,
            "test_mode": {"sleep": 5}}
    answers = race(lambda: fresh(client).post("/api/v1/models/train/new", json=body))
    assert [r.status_code for r in answers] == [201] * N, [r.text for r in answers]
    tasks = {r.json()["task_id"] for r in answers}
    assert len(tasks) == 1, tasks
    assert sql("SELECT count(*) FROM jobs WHERE workspace_id = :'p1'", ws)[0][0] == "1"
    assert client.wait(tasks.pop(), timeout=120)["status"] == "SUCCEEDED"


def test_parallel_identical_strapi_uuid_is_one_document_and_one_job(mine, sql):
    name, key, client, ds, ws = mine
    body = {"uuid": "race-%s" % uuid.uuid4().hex, "accuracy": 0.5,
            "meta": {"dataset_id": ds, "predict_fields": ["churn"], "duration": 10,
                     "test_mode": {"sleep": 1}}}
    answers = race(lambda: fresh(client).post("/trainings", json=body))
    assert [r.status_code for r in answers] == [200] * N, [r.text for r in answers]
    ids = {r.json()["id"] for r in answers}
    assert len(ids) == 1, ids
    assert sql("SELECT count(*) FROM trainings WHERE workspace_id = :'p1'", ws)[0][0] == "1"
    assert sql("SELECT count(*) FROM jobs WHERE workspace_id = :'p1'", ws)[0][0] == "1"
    # A different body under the same uuid, raced too: every one is 409 and
    # the document is unchanged.
    other = dict(body, accuracy=0.6)
    answers = race(lambda: fresh(client).post("/trainings", json=other))
    assert [r.status_code for r in answers] == [409] * N, [r.text for r in answers]
    assert client.get("/trainings/%s" % ids.pop()).json()["accuracy"] == 0.5
    assert sql("SELECT count(*) FROM trainings WHERE workspace_id = :'p1'", ws)[0][0] == "1"
