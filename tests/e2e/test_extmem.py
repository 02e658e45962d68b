"""Data larger than memory, through the trainer (ml/extmem.h, trainer/limits.h).

A trainer whose in-memory cap (TRAINYARD_CHILD_INMEM_MAX) is below the
dataset's float matrix trains it from page files on local disk: the result
says so, the model is as good as the signal allows and predicts like any
other, the job's log tells why, and nothing is left in the scratch
directory afterwards.
"""
import os
import random
import shutil
import tempfile
import time

import pytest


def synth_csv(rows, seed):
    rnd = random.Random(seed)
    colors = ["red", "green", "blue", "teal"]
    effect = {"red": 1.0, "green": -1.0, "blue": 0.0, "teal": 0.5}
    out = ["x1,x2,x3,color,y"]
    for _ in range(rows):
        x1, x2, x3 = rnd.uniform(-2, 2), rnd.uniform(-2, 2), rnd.random()
        c = rnd.choice(colors)
        z = 1.5 * x1 - x2 * x2 + 2 * effect[c] + rnd.uniform(-1, 1)
        out.append("%.4f,%.4f,%.4f,%s,%s" % (x1, x2, x3, c, "yes" if z > -1 else "no"))
    return "\n".join(out) + "\n"


@pytest.fixture
def low_cap_trainer(stack, trainers, main_trainer_paused):
    # Where the worker (nobody, under a root trainer) can reach: not under
    # pytest's 0700 tmp_path.
    scratch = tempfile.mkdtemp(prefix="trainyard-extmem-scratch-")
    os.chmod(scratch, 0o1777)
    # ASan's shadow memory needs terabytes of address space: under the
    # sanitizer build the cap is off, and the explicit in-memory limit
    # below still sends the table to disk.
    asan = os.environ.get("TRAINYARD_E2E_ASAN") == "1"
    trainers.start(1, slots=1, extra_env={
        "TRAINYARD_CHILD_MEMORY": "0" if asan else "1g",
        "TRAINYARD_CHILD_INMEM_MAX": "64k",
        "TRAINYARD_CHILD_SCRATCH": scratch,
    })
    yield scratch
    shutil.rmtree(scratch, ignore_errors=True)


def test_extmem_larger_than_cap_trains_from_disk(make_workspace, sql, low_cap_trainer):
    _, _, c = make_workspace("extmem")
    ds = c.upload_csv(synth_csv(20000, 7), name="extmem")["dataset_id"]
    task = c.train(ds, ["y"], duration=10, force=True)
    c.wait_success(task, timeout=180)
    res = c.result(task)
    xm = res["external_memory"]
    assert xm["rows"] == 20000
    assert xm["training_rows"] + xm["validation_rows"] <= 20000
    assert xm["page_bytes"] > 0
    # The blocks came first (here one block: the table fits the cap once
    # quantised); XGBoost's page cache was built after them, unless the
    # result says why not.
    assert xm["blocks"] == 1 and xm["blocks_quantised"] == 1, xm
    assert xm["cache_bytes"] > 0 or "not built" in xm.get("skipped", ""), xm
    model = res["models"][0]
    assert model["external_memory"] == xm
    assert all(cand["params"]["external_memory"] for cand in model["candidates"])
    assert any(cand["params"].get("blocks") == 1 for cand in model["candidates"])
    assert model["validation_metrics"]["metric"] == "auc"
    assert model["validation_metrics"]["value"] > 0.93, model["validation_metrics"]
    lines = [r[0] for r in sql("SELECT line FROM job_logs WHERE job_id = :'p1' ORDER BY id",
                               task)]
    assert any("larger than memory" in line for line in lines), lines
    # The model predicts like any other.
    r = c.post("/api/v1/models/%s/predict" % res["model_id"],
               json={"data": [{"x1": 1.8, "x2": 0.0, "x3": 0.5, "color": "red"},
                              {"x1": -1.9, "x2": 1.9, "x3": 0.5, "color": "green"}]})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert preds[0]["y"] == "yes" and preds[1]["y"] == "no", preds
    # Page files and XGBoost's cache are gone with the job (the runner
    # removes them once it has stored the result: just after SUCCEEDED).
    deadline = time.time() + 15
    while os.listdir(low_cap_trainer) and time.time() < deadline:
        time.sleep(0.2)
    assert os.listdir(low_cap_trainer) == []


def test_extmem_small_dataset_stays_in_memory(make_workspace, low_cap_trainer):
    _, _, c = make_workspace("extmem-small")
    ds = c.upload_csv(synth_csv(300, 8), name="small")["dataset_id"]
    task = c.train(ds, ["y"], duration=10, force=True)
    c.wait_success(task, timeout=120)
    assert "external_memory" not in c.result(task)
