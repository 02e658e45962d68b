"""Akkio's legacy /v1 API, as its Python SDK (akkio-inc/akkio-python) speaks it.

Every call is made the way the SDK makes it: GET with the parameters in the
query (requests.get(url, {...})), POST with a JSON body holding api_key.
The SDK's deletes (requests.delete(url, {...})) raise TypeError in requests
itself (delete takes no positional parameters), so deletes are made with the
parameters in the query, and also as a form and a JSON body.

Covered: datasets (create empty, list, show, append rows as a list and as a
JSON string, a bad row refused with nothing kept, field types set and
re-inferred, delete, delete refused while a training uses it), models
(synchronous create answering the training result, list, delete, predict
with explanations checked against python3-xgboost's pred_contribs), the
error shapes, 20 concurrent create_model calls while /healthz answers, and
api_key never reaching the logs.
"""
import csv
import io
import json
import math
import os
import re
import subprocess
import sys
import tarfile
import threading
import time
import uuid

import numpy as np
import pytest
import requests

from conftest import DATASETS, ROOT

HERE = os.path.dirname(os.path.abspath(__file__))
BAD_KEY = {"status": "missing or invalid API key"}


class Sdk:
    """The SDK's calls, byte for byte what akkio/__init__.py sends."""

    def __init__(self, base_url, key):
        self.base = base_url + "/v1"
        self.api_key = key

    def get_models(self):
        return requests.get(self.base + "/models", {"api_key": self.api_key}, timeout=60)

    def get_datasets(self):
        return requests.get(self.base + "/datasets", {"api_key": self.api_key}, timeout=60)

    def create_dataset(self, name):
        return requests.post(self.base + "/datasets",
                             json={"api_key": self.api_key, "name": name}, timeout=60)

    def add_rows_to_dataset(self, id, rows):
        return requests.post(self.base + "/datasets",
                             json={"api_key": self.api_key, "id": id, "rows": rows}, timeout=60)

    def parse_dataset(self, id):
        return requests.post(self.base + "/datasets",
                             json={"api_key": self.api_key, "id": id, "parse_fields": True},
                             timeout=60)

    def create_model(self, id, predict_fields, ignore_fields=[], params=None, timeout=600):
        request_params = {"api_key": self.api_key, "dataset_id": id,
                          "predict_fields": predict_fields, "ignore_fields": ignore_fields,
                          "extra_attention": False, "duration": 10}
        if params:
            request_params.update(params)
        return requests.post(self.base + "/models", json=request_params, timeout=timeout)

    def make_prediction(self, id, data, explain=False):
        return requests.post(self.base + "/models",
                             json={"api_key": self.api_key, "id": id, "data": data,
                                   "explain": explain}, timeout=60)

    # The SDK's own delete calls cannot run (see the module comment): the
    # same parameters in the query string.
    def delete_model(self, id):
        return requests.delete(self.base + "/models",
                               params={"api_key": self.api_key, "id": id}, timeout=60)

    def delete_dataset(self, id):
        return requests.delete(self.base + "/datasets",
                               params={"api_key": self.api_key, "id": id}, timeout=60)


@pytest.fixture(scope="module")
def sdk(stack, dev_key):
    return Sdk(stack.base_url, dev_key)


def ok(r, code=200):
    assert r.status_code == code, (r.status_code, r.text)
    doc = r.json()
    assert doc["status"] == "success", doc
    return doc


def v1_error(r, code):
    assert r.status_code == code, (r.status_code, r.text)
    doc = r.json()
    assert doc["status"] == "error" and doc["message"], doc
    assert set(doc) <= {"status", "message", "field"}, doc
    return doc


def read_rows(name, n=None):
    with open(os.path.join(DATASETS, name)) as f:
        rows = list(csv.DictReader(f))
    rows = rows[:n] if n else rows
    # Numbers as JSON numbers, as a client building rows in Python would.
    return [{k: (float(v) if k != "target" else int(v)) for k, v in r.items()} for r in rows]


def new_dataset(sdk, prefix="v1"):
    doc = ok(sdk.create_dataset("%s-%s" % (prefix, uuid.uuid4().hex[:8])))
    return doc["dataset_id"]


# --- keys and error shapes ---------------------------------------------------

def test_akkio_v1_missing_or_wrong_key(stack, dev_key):
    base = stack.base_url + "/v1"
    for r in (requests.get(base + "/models", timeout=30),
              requests.get(base + "/models", {"api_key": "wrong"}, timeout=30),
              requests.get(base + "/datasets", {"api_key": "ty_nope_nope"}, timeout=30),
              requests.post(base + "/datasets", json={"api_key": "wrong", "name": "x"},
                            timeout=30),
              requests.post(base + "/models", json={"id": str(uuid.uuid4()), "data": []},
                            timeout=30),
              requests.delete(base + "/datasets", params={"api_key": "wrong", "id": "x"},
                              timeout=30)):
        assert r.status_code == 401, (r.status_code, r.text)
        assert r.json() == BAD_KEY


def test_akkio_v1_unknown_ids(sdk):
    unknown = str(uuid.uuid4())
    r = requests.get(sdk.base + "/datasets", {"api_key": sdk.api_key, "id": unknown}, timeout=30)
    assert "no dataset" in v1_error(r, 404)["message"]
    assert "no dataset" in v1_error(sdk.delete_dataset(unknown), 404)["message"]
    assert "no model" in v1_error(sdk.delete_model(unknown), 404)["message"]
    assert "no model" in v1_error(sdk.make_prediction(unknown, [{"x": 1}]), 404)["message"]
    doc = v1_error(sdk.create_model(unknown, ["y"]), 404)
    assert unknown in doc["message"]
    r = sdk.add_rows_to_dataset(unknown, [{"x": 1}])
    v1_error(r, 404)


# --- datasets ----------------------------------------------------------------

def show(sdk, id):
    return ok(requests.get(sdk.base + "/datasets", {"api_key": sdk.api_key, "id": id},
                           timeout=30))


def test_akkio_v1_dataset_lifecycle(sdk, api):
    name = "life-%s" % uuid.uuid4().hex[:8]
    created = ok(sdk.create_dataset(name))
    assert created["dataset_name"] == name
    did = created["dataset_id"]
    listed = ok(sdk.get_datasets())["datasets"]
    assert {"id": did, "name": name, "rows": 0} in listed
    doc = show(sdk, did)
    assert doc["name"] == name and doc["rows"] == 0 and doc["fields"] == []

    # First rows define the schema (keys in order of appearance).
    first = [{"age": 31, "city": "Oslo", "vip": True},
             {"age": 45.5, "city": "Rome", "vip": False, "note": "x, \"quoted\""}]
    assert ok(sdk.add_rows_to_dataset(did, first))["rows"] == 2
    # rows as a JSON-encoded string, as Akkio's curl examples send it.
    more = [{"age": "52", "city": "Oslo", "vip": "no"}, {"city": "Lima", "age": None}]
    assert ok(sdk.add_rows_to_dataset(did, json.dumps(more)))["rows"] == 4
    doc = show(sdk, did)
    assert doc["rows"] == 4
    types = {f["name"]: (f["type"], f["trainyard_type"]) for f in doc["fields"]}
    assert types["age"] == ("number", "number"), types
    assert types["city"] == ("category", "category"), types
    assert types["vip"] == ("category", "boolean"), types
    assert types["note"][0] in ("category", "string"), types
    assert [f["name"] for f in doc["fields"]] == ["age", "city", "vip", "note"]
    # The same dataset through trainyard's own routes.
    own = api.get("/api/v1/datasets/%s" % did).json()
    assert own["rows"] == 4

    # A row of the wrong type: refused, naming row and field, nothing kept.
    bad = [{"age": 20, "city": "Kyiv"}, {"age": "twenty", "city": "Oslo"}]
    err = v1_error(sdk.add_rows_to_dataset(did, bad), 422)
    assert err["field"] == "rows.1.age", err
    assert "row 1" in err["message"] and "age" in err["message"], err
    # A field the dataset lacks.
    err = v1_error(sdk.add_rows_to_dataset(did, [{"age": 1, "colour": "red"}]), 422)
    assert err["field"] == "rows.0.colour", err
    assert show(sdk, did)["rows"] == 4

    # Field types set, and re-inferred.
    r = requests.post(sdk.base + "/datasets", json={"api_key": sdk.api_key, "id": did,
                                                    "fields": [{"name": "age",
                                                                "type": "category"}]},
                      timeout=30)
    ok(r)
    assert {f["name"]: f["type"] for f in show(sdk, did)["fields"]}["age"] == "category"
    # A set type survives an append.
    ok(sdk.add_rows_to_dataset(did, [{"age": 60, "city": "Rome", "vip": "yes"}]))
    assert {f["name"]: f["type"] for f in show(sdk, did)["fields"]}["age"] == "category"
    err = v1_error(requests.post(sdk.base + "/datasets",
                                 json={"api_key": sdk.api_key, "id": did,
                                       "fields": {"nope": "number"}}, timeout=30), 422)
    assert "nope" in err["message"]
    parsed = ok(sdk.parse_dataset(did))
    assert {f["name"]: f["type"] for f in parsed["fields"]}["age"] == "number"
    assert show(sdk, did)["rows"] == 5

    # Delete, with the parameters in the query, as a form, as JSON.
    ok(sdk.delete_dataset(did))
    v1_error(requests.get(sdk.base + "/datasets", {"api_key": sdk.api_key, "id": did},
                          timeout=30), 404)
    d2 = new_dataset(sdk)
    ok(requests.delete(sdk.base + "/datasets", data={"api_key": sdk.api_key, "id": d2},
                       timeout=30))
    d3 = new_dataset(sdk)
    ok(requests.delete(sdk.base + "/datasets", json={"api_key": sdk.api_key, "id": d3},
                       timeout=30))


def test_akkio_v1_parameters_in_query_and_form(sdk):
    r = requests.post(sdk.base + "/datasets", params={"api_key": sdk.api_key, "name": "q"},
                      timeout=30)
    did = ok(r)["dataset_id"]
    r = requests.post(sdk.base + "/datasets",
                      data={"api_key": sdk.api_key, "id": did,
                            "rows": json.dumps([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])},
                      timeout=30)
    assert ok(r)["rows"] == 2
    r = requests.post(sdk.base + "/datasets",
                      params={"api_key": sdk.api_key, "id": did, "parse_fields": "true"},
                      timeout=30)
    assert [f["type"] for f in ok(r)["fields"]] == ["number", "category"]
    ok(sdk.delete_dataset(did))


def test_akkio_v1_empty_dataset_trained(sdk):
    did = new_dataset(sdk, "empty")
    err = v1_error(sdk.create_model(did, ["y"]), 422)
    assert err["field"] == "dataset_id" and "no rows" in err["message"], err
    ok(sdk.delete_dataset(did))


def append_csv(sdk, id, text, as_form=False):
    """Appends a CSV text (Akkio v1's {id, csv}), as JSON or as a form field."""
    if as_form:
        return requests.post(sdk.base + "/datasets",
                             data={"api_key": sdk.api_key, "id": id, "csv": text}, timeout=60)
    return requests.post(sdk.base + "/datasets",
                         json={"api_key": sdk.api_key, "id": id, "csv": text}, timeout=60)


def test_akkio_v1_appends_to_a_semicolon_dataset(sdk, api):
    """A ';' file stays a ';' file: rows appended as JSON are written with
    ';' (a value holding ';' quoted), an appended CSV is read with ';' (not
    sniffed) and its header must name the dataset's fields, in any order;
    a mismatch is a 422 naming the field, and nothing is written."""
    text = "name;age;city\nann;30;Rome\nbob;41;Oslo, Norway\n"
    ds = api.upload_csv(text, name="semi-append")
    did = ds["dataset_id"]
    assert ds["delimiter"] == ";" and [f["name"] for f in ds["fields"]] == ["name", "age", "city"]

    def state():
        shown = api.get("/api/v1/datasets/%s" % did).json()
        rows = api.get("/api/v1/datasets/%s/preview" % did, params={"rows": 200}).json()
        return shown, rows

    # JSON rows, one value holding the file's delimiter.
    assert ok(sdk.add_rows_to_dataset(did, [{"name": "cy", "age": 25,
                                             "city": "Paris; France"}]))["rows"] == 3
    # CSV rows, in the dataset's order and in another one; JSON and form.
    assert ok(append_csv(sdk, did, "name;age;city\ndee;33;Lima\n"))["rows"] == 4
    assert ok(append_csv(sdk, did, "city;name;age\nRiga;eve;28\n", as_form=True))["rows"] == 5
    shown, preview = state()
    assert shown["delimiter"] == ";" and shown["rows"] == 5
    assert [f["name"] for f in shown["fields"]] == ["name", "age", "city"]
    assert {f["name"]: f["type"] for f in shown["fields"]}["age"] == "number"
    assert preview["fields"] == ["name", "age", "city"]
    assert preview["rows"] == [["ann", "30", "Rome"], ["bob", "41", "Oslo, Norway"],
                               ["cy", "25", "Paris; France"], ["dee", "33", "Lima"],
                               ["eve", "28", "Riga"]], preview["rows"]

    # Refused, each naming the field, and nothing written.
    before = state()
    # A ',' file read with ';' is one column named "name,age,city".
    err = v1_error(append_csv(sdk, did, "name,age,city\nfay,22,Kyiv\n"), 422)
    assert err["field"] == "csv.name,age,city", err
    assert "';'" in err["message"], err
    err = v1_error(append_csv(sdk, did, "name;age\ngus;50\n"), 422)
    assert err["field"] == "csv.city" and "no column" in err["message"], err
    err = v1_error(append_csv(sdk, did, "name;age;city;town\nhal;5;Rome;x\n"), 422)
    assert err["field"] == "csv.town", err
    err = v1_error(append_csv(sdk, did, "name;age;city\nivy;old;Rome\n"), 422)
    assert err["field"] == "rows.0.age" and "not a number" in err["message"], err
    err = v1_error(append_csv(sdk, did, "name;age;city\njo;3\n"), 400)
    assert err["field"] == "csv" and "line 2" in err["message"], err
    err = v1_error(append_csv(sdk, did, "name;age;city\n"), 422)
    assert err["field"] == "csv", err
    both = requests.post(sdk.base + "/datasets", json={
        "api_key": sdk.api_key, "id": did, "csv": "name;age;city\nkim;1;Rome\n",
        "rows": [{"name": "kim", "age": 1, "city": "Rome"}]}, timeout=60)
    assert v1_error(both, 422)["field"] == "csv"
    assert state() == before
    # The dataset still trains-ready: its bytes read back as the same rows.
    assert show(sdk, did)["rows"] == 5


def test_akkio_v1_csv_defines_a_new_datasets_schema(sdk, api):
    """A dataset created empty takes an appended CSV's header as its schema
    (its delimiter sniffed: there is no file yet), then holds the file to it."""
    did = ok(sdk.create_dataset("csv-first-%s" % uuid.uuid4().hex[:6]))["dataset_id"]
    assert ok(append_csv(sdk, did, "a|b\n1|x\n2|y\n"))["rows"] == 2
    doc = show(sdk, did)
    assert [f["name"] for f in doc["fields"]] == ["a", "b"]
    assert ok(append_csv(sdk, did, "b,a\nz,3\n"))["rows"] == 3
    err = v1_error(append_csv(sdk, did, "a|b\n4|w\n"), 422)
    assert err["field"] == "csv.a|b", err
    preview = api.get("/api/v1/datasets/%s/preview" % did).json()
    assert preview["rows"] == [["1", "x"], ["2", "y"], ["3", "z"]], preview


def test_akkio_v1_delete_dataset_in_use_and_append_during_training(sdk, api, sql):
    did = new_dataset(sdk, "busy")
    ok(sdk.add_rows_to_dataset(did, read_rows("breast_cancer_train.csv", 200)))
    before = sql("SELECT artifact_id FROM datasets WHERE id = :'p1'", did)[0][0]
    task = api.train(did, ["target"], duration=10, force=True)
    err = v1_error(sdk.delete_dataset(did), 409)
    assert "used by a training" in err["message"], err
    # Appending while it trains: a new artifact; the old one stays for the job.
    ok(sdk.add_rows_to_dataset(did, read_rows("breast_cancer_train.csv")[200:260]))
    after = sql("SELECT artifact_id FROM datasets WHERE id = :'p1'", did)[0][0]
    assert after != before
    assert sql("SELECT count(*) FROM artifacts WHERE id = :'p1'", before)[0][0] == "1"
    api.wait_success(task, timeout=240)
    ok(sdk.delete_dataset(did))


def test_akkio_v1_concurrent_appends_keep_every_row(sdk):
    """Appends racing on one dataset, the very first ones (which set the
    schema and write the header) included: each is applied whole, once."""
    from test_auth import burst
    rows = read_rows("breast_cancer_train.csv", 160)
    did = new_dataset(sdk, "race")
    batches = iter([rows[i:i + 20] for i in range(0, 160, 20)])
    lock = threading.Lock()

    def append():
        with lock:
            batch = next(batches)
        return sdk.add_rows_to_dataset(did, batch).status_code

    assert burst(append, n=8) == [200] * 8
    doc = show(sdk, did)
    assert doc["rows"] == 160, doc
    assert sorted(f["name"] for f in doc["fields"]) == sorted(rows[0]), doc["fields"]
    ok(sdk.delete_dataset(did))


def collect(stack):
    """One storage collector pass that spares no orphan for its age."""
    env = dict(stack.proc_env(), TRAINYARD_GC_ORPHAN_GRACE="0", TRAINYARD_RETENTION_MODELS="0",
               TRAINYARD_RETENTION_DAYS="0")
    p = subprocess.run([os.path.join(stack.build, "trainyard"), "gc"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_akkio_v1_queued_job_trains_on_the_rows_it_was_submitted_with(sdk, api, sql, stack,
                                                                      main_trainer_paused):
    """Rows appended after a job was submitted are not in its data, even when
    it starts after the append; the bytes it needs survive the collector
    while it waits and are reclaimed once it is over (sql/0033)."""
    did = new_dataset(sdk, "pin")
    rows = read_rows("breast_cancer_train.csv")
    ok(sdk.add_rows_to_dataset(did, rows[:200]))
    before = sql("SELECT artifact_id FROM datasets WHERE id = :'p1'", did)[0][0]
    submitted = api.get("/api/v1/datasets/%s" % did).json()
    task = api.train(did, ["target"], duration=10, force=True)  # queued: no trainer runs
    ok(sdk.add_rows_to_dataset(did, rows[200:260]))
    assert show(sdk, did)["rows"] == 260
    collect(stack)
    assert sql("SELECT count(*) FROM artifacts WHERE id = :'p1'", before)[0][0] == "1"
    main_trainer_paused.start()
    api.wait_success(task, timeout=240)
    lines = [r[0] for r in sql("SELECT line FROM job_logs WHERE job_id = :'p1' ORDER BY id",
                               task)]
    loaded = [x for x in lines if "dataset loaded:" in x]
    assert loaded and "dataset loaded: 200 rows" in loaded[0], lines
    collect(stack)
    assert sql("SELECT count(*) FROM artifacts WHERE id = :'p1'", before)[0][0] == "0"
    # The model's lineage names the bytes it was trained on (sql/0137), not
    # the dataset's latest ones, even with those bytes collected.
    now = api.get("/api/v1/datasets/%s" % did).json()
    assert now["sha256"] != submitted["sha256"] and now["rows"] == 260
    lin = api.get("/api/v1/models/%s" % api.result(task)["model_id"]).json()["lineage"]
    assert lin["dataset"]["sha256"] == submitted["sha256"], (lin["dataset"], submitted)
    assert lin["dataset"]["rows"] == 200 and lin["dataset"]["size"] == submitted["size"]
    # A job submitted now trains on all 260.
    task2 = api.train(did, ["target"], duration=10, force=True)
    api.wait_success(task2, timeout=240)
    lines = [r[0] for r in sql("SELECT line FROM job_logs WHERE job_id = :'p1' ORDER BY id",
                               task2)]
    assert any("dataset loaded: 260 rows" in x for x in lines), lines
    lin2 = api.get("/api/v1/models/%s" % api.result(task2)["model_id"]).json()["lineage"]
    assert lin2["dataset"]["sha256"] == now["sha256"] and lin2["dataset"]["rows"] == 260
    ok(sdk.delete_dataset(did))


# --- models ------------------------------------------------------------------

@pytest.fixture(scope="module")
def cancer(sdk):
    """The SDK README's flow on breast_cancer_train.csv: an empty dataset,
    rows added in batches, a model trained synchronously."""
    assert "models" in ok(sdk.get_models())
    assert "datasets" in ok(sdk.get_datasets())
    new_dataset_doc = ok(sdk.create_dataset("python api test"))
    did = new_dataset_doc["dataset_id"]
    rows = read_rows("breast_cancer_train.csv")
    for i in range(0, len(rows), 100):
        ok(sdk.add_rows_to_dataset(did, rows[i:i + 100]))
    assert show(sdk, did)["rows"] == len(rows)
    started = time.time()
    new_model = ok(sdk.create_model(did, ["target"], [], {"duration": 10}))
    return {"dataset_id": did, "model": new_model, "seconds": time.time() - started,
            "rows": rows}


def test_akkio_v1_sdk_readme_flow(sdk, api, cancer):
    m = cancer["model"]
    for k in ("model_id", "stats", "field_importance", "data_story", "task_id"):
        assert k in m, k
    # The same document as the training task's result.
    res = api.result(m["task_id"])
    assert {k: v for k, v in m.items() if k != "task_id"} == res
    assert any(x["id"] == m["model_id"] for x in ok(sdk.get_models())["models"])
    test_rows = read_rows("breast_cancer_test.csv", 5)
    for r in test_rows:
        r.pop("target")
    pred = ok(sdk.make_prediction(m["model_id"], test_rows, explain=True))["predictions"]
    assert len(pred) == 5
    for p in pred:
        assert p["target"] in ("0", "1")
        ex = p["explanation"]
        assert ex["output"] == "log-odds" and ex["class"] == "1"
        assert set(ex["contributions"]) <= set(test_rows[0])
        margin = ex["bias"] + sum(ex["contributions"].values())
        assert abs(1 / (1 + math.exp(-margin)) - p["Probability target is 1"]) < 1e-4
    plain = ok(sdk.make_prediction(m["model_id"], test_rows))["predictions"]
    assert "explanation" not in plain[0]
    # The same request again answers the same model at once (Akkio's
    # identical-request rule), unless forced.
    again = ok(sdk.create_model(cancer["dataset_id"], ["target"], [], {"duration": 10}))
    assert again["model_id"] == m["model_id"]


def download(api, model_id, tmp_path):
    r = api.get("/api/v1/models/%s/download" % model_id)
    assert r.status_code == 200, r.text
    out = {}
    with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:*") as t:
        for mem in t.getmembers():
            if mem.isfile():
                out[os.path.basename(mem.name)] = t.extractfile(mem).read()
    path = tmp_path / ("%s.ubj" % model_id)
    path.write_bytes(out["model.ubj"])
    return str(path), json.loads(out["preprocess.json"])


def test_akkio_v1_declared_field_types_are_trained_on(sdk, api, tmp_path):
    """Types set through `fields` decide how training reads the columns: a
    numeric-looking field declared a category is encoded as one, a text
    field declared a number is read as numbers (its other texts missing), a
    field declared a string is read as text (levels). The same rows without
    declarations train as inferred."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(300):
        store = int(rng.integers(1, 7))
        size = int(rng.integers(1, 40))
        rows.append({"store": store, "x": float(rng.normal()),
                     "size": "unknown" if i % 5 == 0 else str(size),
                     "note": "n%d" % (i % 9),
                     "grade": [1, 3, 2, 3, 1, 2][store - 1] if i % 10 else 2})

    def train(declare):
        did = new_dataset(sdk, "types")
        ok(sdk.add_rows_to_dataset(did, rows))
        if declare:
            doc = ok(requests.post(sdk.base + "/datasets", json={
                "api_key": sdk.api_key, "id": did,
                "fields": {"store": "category", "grade": "category", "size": "number",
                           "note": "string"}}, timeout=60))
            types = {f["name"]: f["type"] for f in doc["fields"]}
            assert types["store"] == "category" and types["size"] == "number", types
        mid = ok(sdk.create_model(did, ["grade"]))["model_id"]
        _, pre = download(api, mid, tmp_path)
        return mid, pre, {f["name"]: f for f in pre["features"]}

    _, pre, feats = train(False)
    assert feats["store"]["kind"] == "number"
    assert feats["size"]["kind"] == "category"

    mid, pre, feats = train(True)
    assert pre["task"] == "multiclass", pre["task"]
    assert sorted(pre["classes"]) == ["1", "2", "3"]
    assert feats["store"]["kind"] == "category", feats["store"]
    assert sorted(feats["store"]["levels"]) == ["1", "2", "3", "4", "5", "6"]
    assert feats["size"]["kind"] == "number", feats["size"]
    assert feats["note"]["kind"] == "category", feats["note"]
    # Predictions read the declared types too: store 2 is grade 3.
    doc = ok(sdk.make_prediction(mid, [{"store": 2, "x": 0.1, "size": "12"}]))
    assert doc["predictions"][0]["grade"] == "3", doc


def owners(names, fields):
    """Booster input name -> the field it reads."""
    return [next(f for f in fields if name == f or name.startswith(f + "=")) for name in names]


def check_contribs(api, model_id, rows, preds, tmp_path):
    """Per row, per field: the API's contributions equal pred_contribs on the
    downloaded model (summed over a field's inputs), plus, for an ensemble's
    linear member (served beside model.ubj), weight x coef x (input - its
    training mean) from preprocess.json; and they sum to the margin."""
    import numpy as np
    import xgboost
    sys.path.insert(0, HERE)
    import trainyard_preprocess as tp
    path, pre = download(api, model_id, tmp_path)
    booster = xgboost.Booster(model_file=path)
    dm = tp.dmatrix(rows, pre)
    contribs = booster.predict(dm, pred_contribs=True)
    margin = booster.predict(dm, output_margin=True)
    fields = [f["name"] for f in pre["features"]]
    owner = owners(tp.feature_info(pre)[0], fields)
    multi = contribs.ndim == 3
    groups_n = len(pre["classes"]) if multi else 1
    # The linear member's exact terms: n x groups x (fields + bias).
    lin_terms = np.zeros((len(rows), groups_n, len(fields) + 1))
    lm = tp.linear_member(pre)
    if lm is not None:
        lpre = {"model": "linear", "features": lm["linear"]["inputs"]}
        X = tp.to_matrix(rows, lpre).astype(np.float64)
        coef = np.array(lm["linear"]["coefficients"], dtype=np.float64)
        means = np.array(lm["linear"]["means"], dtype=np.float64)
        for c, f in enumerate(owners(tp.feature_info(lpre)[0], fields)):
            lin_terms[:, :, fields.index(f)] += np.outer(X[:, c] - means[c], coef[c])
        lin_terms[:, :, -1] = coef[-1] + means @ coef[:-1]
        lin_terms *= lm["weight"]
    for i, p in enumerate(preds):
        ex = p["explanation"]
        groups = [(c, ex["classes"][c]) for c in pre["classes"]] if multi else [(None, ex)]
        for g, (cls, e) in enumerate(groups):
            row = contribs[i, g] if multi else contribs[i]
            want = {f: float(lin_terms[i, g, j]) for j, f in enumerate(fields)}
            for j, f in enumerate(owner):
                want[f] += float(row[j])
            assert set(e["contributions"]) == set(fields)
            for f in fields:
                assert abs(e["contributions"][f] - want[f]) < 1e-4, (i, cls, f)
            assert abs(e["bias"] - float(row[-1]) - lin_terms[i, g, -1]) < 1e-4
            total = e["bias"] + sum(e["contributions"].values())
            m = (margin[i, g] if multi else margin[i]) + lin_terms[i, g].sum()
            assert abs(total - float(m)) < 1e-4, (i, cls, total, m)


def test_akkio_v1_explain_matches_xgboost_binary(sdk, api, cancer, tmp_path):
    rows = read_rows("breast_cancer_test.csv", 40)
    for r in rows:
        r.pop("target")
    mid = cancer["model"]["model_id"]
    preds = ok(sdk.make_prediction(mid, rows, explain=True))["predictions"]
    check_contribs(api, mid, rows, preds, tmp_path)


def test_akkio_v1_explain_on_the_predict_route(api, background, tmp_path, churn_csv):
    # churn: categories (XGBoost categorical splits); wine: multiclass.
    for name, target, rows in (
            ("churn", "churn", list(csv.DictReader(io.StringIO(churn_csv)))[:30]),
            ("wine", "target", list(csv.DictReader(open(os.path.join(DATASETS,
                                                                     "wine_test.csv"))))[:20])):
        task = background.task(name)
        api.wait_success(task, timeout=240)
        mid = api.result(task)["model_id"]
        for r in rows:
            r.pop(target)
        resp = api.post("/api/v1/models/%s/predict" % mid, json={"data": rows, "explain": True})
        assert resp.status_code == 200, resp.text
        check_contribs(api, mid, rows, resp.json()["predictions"], tmp_path)
        # ?explain=true too
        resp = api.post("/api/v1/models/%s/predict?explain=true" % mid, json={"data": rows[:2]})
        assert "explanation" in resp.json()["predictions"][0]


def test_akkio_v1_model_list_and_delete(sdk, api):
    did = new_dataset(sdk, "del")
    ok(sdk.add_rows_to_dataset(did, read_rows("breast_cancer_train.csv", 150)))
    m = ok(sdk.create_model(did, ["target"], ["mean radius"]))
    mid = m["model_id"]
    listed = ok(sdk.get_models())["models"]
    item = next(x for x in listed if x["id"] == mid)
    assert item["name"] and item["dataset_id"] == did and item["predict_field"] == "target"
    ok(sdk.delete_model(mid))
    assert all(x["id"] != mid for x in ok(sdk.get_models())["models"])
    assert api.get("/api/v1/models/%s" % mid).status_code == 404
    v1_error(sdk.delete_model(mid), 404)
    # The same request now trains a new model instead of naming the deleted one.
    m2 = ok(sdk.create_model(did, ["target"], ["mean radius"]))
    assert m2["model_id"] != mid
    # As a form body and as JSON too.
    ok(requests.delete(sdk.base + "/models", data={"api_key": sdk.api_key,
                                                   "id": m2["model_id"]}, timeout=30))
    ok(sdk.delete_dataset(did))


def cache_sizes(stack):
    """{worker pid: models in its cache}: every live worker's own gauge, which
    it publishes on each load and eviction, in one scrape of the pool's view."""
    from test_auth import n_workers
    seen = {}
    for _ in range(50):
        text = requests.get(stack.base_url + "/metrics", timeout=30).text
        seen = {int(pid): int(n) for pid, n in
                re.findall(r'trainyard_api_worker_cache_models\{worker="(\d+)"\} (\d+)', text)}
        if len(seen) >= n_workers():
            return seen
        time.sleep(0.2)
    raise AssertionError("the scrape did not list every worker: %r" % seen)


def test_akkio_v1_deleted_model_leaves_every_worker_cache(sdk, stack):
    """A model cached by every API worker, deleted through one of them: no
    worker predicts with it afterwards, not even once, and every cache has
    let it go (the trigger's NOTIFY, sql/0032)."""
    from test_auth import burst, on_every_worker
    did = new_dataset(sdk, "evict")
    rows = read_rows("breast_cancer_train.csv", 150)
    ok(sdk.add_rows_to_dataset(did, rows))
    mid = ok(sdk.create_model(did, ["target"]))["model_id"]
    data = [{k: v for k, v in rows[0].items() if k != "target"}]

    def predict():
        return sdk.make_prediction(mid, data).status_code

    # Parallel predictions until every worker has loaded the model.
    before = cache_sizes(stack)
    for _ in range(100):
        assert burst(predict) == [200] * 16
        loaded = cache_sizes(stack)
        assert set(loaded) == set(before), "the pool changed under the test"
        if all(loaded[p] > before[p] for p in before):
            break
    else:
        raise AssertionError("some worker never loaded the model: %r -> %r" % (before, loaded))
    ok(sdk.delete_model(mid))
    # Every worker answers 404 from the first request on (each has served
    # some: its 4xx count moved), and its cache is back where it was.
    on_every_worker(stack, predict, 404)
    assert cache_sizes(stack) == before
    ok(sdk.delete_dataset(did))


def test_akkio_v1_concurrent_create_models_keep_api_answering(sdk, stack):
    did = new_dataset(sdk, "many")
    ok(sdk.add_rows_to_dataset(did, read_rows("breast_cancer_train.csv", 120)))
    answers = [None] * 20
    errors = []

    def call(i):
        try:
            # Two distinct requests: two trainings, each awaited by ten calls.
            ignore = ["mean radius"] if i % 2 else []
            answers[i] = sdk.create_model(did, ["target"], ignore, timeout=900)
        except Exception as exc:  # noqa: recorded and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    health = []
    while any(t.is_alive() for t in threads):
        r = requests.get(stack.base_url + "/healthz", timeout=10)
        health.append(r.status_code)
        time.sleep(0.2)
    for t in threads:
        t.join()
    assert not errors, errors
    assert health and all(s == 200 for s in health), health
    ids = set()
    for r in answers:
        doc = ok(r)
        assert doc["model_id"] and doc["stats"]
        ids.add(doc["model_id"])
    assert len(ids) == 2
    ok(sdk.delete_dataset(did))


def test_akkio_v1_duration_outside_the_budgets_rounds_up(sdk):
    # The SDK README passes {'duration': 1}: it trains with the 10 s budget.
    did = new_dataset(sdk, "dur")
    ok(sdk.add_rows_to_dataset(did, read_rows("breast_cancer_train.csv", 100)))
    m = ok(sdk.create_model(did, ["target"], [], {"duration": 1}))
    assert m["model_id"]
    v1_error(sdk.create_model(did, ["target"], [], {"duration": "soon"}), 422)


def test_akkio_v1_key_never_logged(sdk, stack):
    sdk.get_models()
    sdk.get_datasets()
    requests.get(stack.base_url + "/v1/models?x=1&API_KEY=%s&api_key=%s" % (sdk.api_key,
                                                                            sdk.api_key),
                 timeout=30)
    requests.get(stack.base_url + "/v1/models", {"api_key": "ty_wrong_secretvalue"}, timeout=30)
    # A rows batch over nginx's 256 KiB buffer puts the request line, key
    # and all, in nginx's error log (a warning that it went to a temporary
    # file); so does a body over the route's limit (an error).
    requests.post(stack.base_url + "/v1/datasets?api_Key=" + sdk.api_key,
                  data=b"x" * 600000, timeout=30)
    try:
        r = requests.post(stack.base_url + "/trainings?ticket=" + sdk.api_key,
                          data=b"x" * (2 << 20), timeout=60)
        assert r.status_code == 413
    except requests.ConnectionError:
        pass  # nginx may close the connection once it has answered 413
    time.sleep(1.5)  # the access log is flushed every second
    logs = os.path.join(stack.var, "log")
    seen = set()
    for name in os.listdir(logs):
        text = open(os.path.join(logs, name), errors="replace").read()
        assert sdk.api_key not in text, name
        assert "secretvalue" not in text, name
        if name == "nginx-access.log":
            assert "api_key=REDACTED" in text
            seen.add(name)
        if name == "nginx-error.log":
            assert "/v1/datasets?api_Key=REDACTED HTTP" in text
            assert "/trainings?ticket=REDACTED HTTP" in text
            seen.add(name)
    assert seen == {"nginx-access.log", "nginx-error.log"}
