"""Model lifecycle and prediction safety, through nginx and PostgreSQL:
the list (paged, by tag), rename/tag/pin, delete refused while pinned or
while an unfinished job depends on the model, lineage on every dialect's
model view; warnings (and 422 under strict) for unknown fields, unseen
category levels and absent fields; the CSV delimiter sniffed on upload and
used by the trainer (the model here is trained from a ';' file)."""
import csv
import io
import time
import uuid

import pytest


def semicolon(text, n=None):
    rows = list(csv.reader(io.StringIO(text)))
    if n:
        rows = rows[: n + 1]
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\n").writerows(rows)
    return out.getvalue()


@pytest.fixture(scope="module")
def mine(make_workspace):
    return make_workspace("lifecycle")


@pytest.fixture(scope="module")
def trained(mine, churn_csv):
    ws, key, c = mine
    ds = c.upload_csv(semicolon(churn_csv), name="churn-semicolon")
    task = c.train(ds["dataset_id"], ["churn"], duration=10)
    c.wait_success(task, timeout=240)
    return ds, task, c.result(task)["model_id"]


def test_semicolon_csv_is_sniffed_and_reported(mine):
    ws, key, c = mine
    for delim, name in ((";", "semi"), ("\t", "tab"), ("|", "pipe"), (",", "comma")):
        text = delim.join(["a", "b", "c"]) + "\n" + delim.join(["1,5", "x", "3"]) + "\n" + \
            delim.join(["2", "y", "4"]) + "\n"
        if delim == ",":
            text = 'a,b,c\n"1,5",x,3\n2,y,4\n'
        r = c.post("/api/v1/datasets", params={"name": name}, data=text.encode(),
                   headers={"Content-Type": "text/csv"})
        assert r.status_code == 201, r.text
        doc = r.json()
        assert doc["delimiter"] == delim, doc
        assert [f["name"] for f in doc["fields"]] == ["a", "b", "c"], doc
        assert doc["rows"] == 2
        shown = c.get("/api/v1/datasets/%s" % doc["dataset_id"]).json()
        assert shown["delimiter"] == delim


def test_trained_from_semicolon_file(trained):
    ds, task, model = trained
    assert ds["delimiter"] == ";"
    assert len(ds["fields"]) == 20


def test_model_list_paged_and_shown_with_lineage(mine, trained):
    ws, key, c = mine
    ds, task, model = trained
    r = c.get("/api/v1/models")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["total"] >= 1 and doc["limit"] == 100 and doc["offset"] == 0
    ids = [m["model_id"] for m in doc["models"]]
    assert model in ids
    item = doc["models"][ids.index(model)]
    assert item["task_id"] == task and item["task"] == "binary"
    assert item["tags"] == [] and item["pinned"] is False and item["name"] is None
    assert "candidates" not in item  # the list stays light
    # Paging: limit 1 and an offset past the end.
    one = c.get("/api/v1/models", params={"limit": 1}).json()
    assert len(one["models"]) == 1 and one["total"] == doc["total"]
    assert c.get("/api/v1/models", params={"offset": 10**6}).json()["models"] == []
    bad = c.get("/api/v1/models", params={"limit": 0})
    assert bad.status_code == 422 and "limit" in bad.text

    shown = c.get("/api/v1/models/%s" % model).json()
    lin = shown["lineage"]
    assert lin["job"]["job_id"] == task and lin["job"]["dialect"] == "akkio"
    assert lin["job"]["state"] == "succeeded"
    assert lin["spec"]["predict_fields"] == ["churn"]
    assert lin["dataset"]["dataset_id"] == ds["dataset_id"]
    assert lin["dataset"]["sha256"] == ds["sha256"] and len(ds["sha256"]) == 64
    assert lin["dataset"]["delimiter"] == ";" and lin["dataset"]["deleted"] is False
    assert lin["code"] is None  # built-in search: no user code
    # The list carries the same lineage (one query for the page).
    assert item["lineage"] == lin
    # The Akkio result carries the same lineage, and says why its model won.
    res = c.result(task)
    assert res["lineage"] == lin
    assert isinstance(res["selection"], str) and "model" in res["selection"]
    assert res["models"][0]["selection"] == res["selection"]


def test_akkio_v1_model_list_carries_lineage(mine, trained):
    """GET /v1/models (Akkio's legacy list): each model with the lineage the
    model view shows, beside Akkio's keys (which stay as they were)."""
    ws, key, c = mine
    ds, task, model = trained
    lin = c.get("/api/v1/models/%s" % model).json()["lineage"]
    for params in ({"api_key": key}, {}):  # the key in the query, or the header
        r = c.get("/v1/models", params=params)
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["status"] == "success"
        items = {m["id"]: m for m in doc["models"]}
        assert model in items, list(items)
        item = items[model]
        assert item["task_id"] == task and item["predict_field"] == "churn"
        assert item["name"] == "churn-semicolon: churn"
        assert item["lineage"] == lin
        assert item["lineage"]["dataset"]["sha256"] == ds["sha256"]
        # Every listed model has one, and it is that model's own.
        for m in doc["models"]:
            assert m["lineage"]["job"]["job_id"] == m["task_id"], m


def test_rename_tag_pin(mine, trained):
    ws, key, c = mine
    ds, task, model = trained
    r = c.request("PATCH", "/api/v1/models/%s" % model,
                  json={"name": "churn v1", "tags": ["prod", "candidate", "prod"]})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["name"] == "churn v1" and doc["tags"] == ["candidate", "prod"]
    assert doc["pinned"] is False and doc["updated_at"]
    r = c.request("PATCH", "/api/v1/models/%s" % model, json={"pinned": True})
    assert r.json()["pinned"] is True and r.json()["name"] == "churn v1"
    tagged = c.get("/api/v1/models", params={"tag": "prod"}).json()
    assert [m["model_id"] for m in tagged["models"]] == [model]
    assert c.get("/api/v1/models", params={"tag": "nope"}).json() == \
        {"models": [], "total": 0, "limit": 100, "offset": 0}
    # Bad labels: each named with its field and reason, nothing written.
    for body, loc in (({"tags": "prod"}, ["body", "tags"]),
                      ({"tags": ["has space"]}, ["body", "tags", 0]),
                      ({"name": 5}, ["body", "name"]),
                      ({"name": "x" * 201}, ["body", "name"]),
                      ({}, ["body"])):
        r = c.request("PATCH", "/api/v1/models/%s" % model, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"][0]["loc"] == loc, (body, r.text)
    assert c.get("/api/v1/models/%s" % model).json()["tags"] == ["candidate", "prod"]
    r = c.request("PATCH", "/api/v1/models/%s" % uuid.uuid4(), json={"name": "x"})
    assert r.status_code == 404


def test_predict_warnings_and_strict(mine, trained, churn_csv):
    ws, key, c = mine
    ds, task, model = trained
    row = next(csv.DictReader(io.StringIO(churn_csv)))
    clean = {k: v for k, v in row.items() if k != "churn"}
    r = c.post("/api/v1/models/%s/predict" % model, json={"data": [clean, dict(row)]})
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] == []  # the target in a labelled row is not unknown
    base = r.json()["predictions"][0]

    odd = dict(clean)
    odd["tenur"] = odd.pop("tenure")             # misspelled: unknown + missing
    odd["contract"] = "Three year"              # a level never seen
    rows = [odd, odd, clean]
    r = c.post("/api/v1/models/%s/predict" % model, json={"data": rows})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert len(doc["predictions"]) == 3 and doc["predictions"][2] == base
    w = {(x["code"], x["field"]): x for x in doc["warnings"]}
    assert set(w) == {("unknown_field", "tenur"), ("missing_field", "tenure"),
                      ("unseen_level", "contract")}, doc["warnings"]
    assert w[("unknown_field", "tenur")]["rows"] == [0, 1]
    assert w[("unknown_field", "tenur")]["count"] == 2
    assert w[("unseen_level", "contract")]["value"] == "Three year"
    assert "not seen" in w[("unseen_level", "contract")]["message"]

    # strict: 422, every problem named with its row and field, nothing predicted.
    for kw in ({"json": {"data": rows, "strict": True}},
               {"json": {"data": rows}, "params": {"strict": "true"}}):
        r = c.post("/api/v1/models/%s/predict" % model, **kw)
        assert r.status_code == 422, r.text
        locs = {tuple(d["loc"]): d["type"] for d in r.json()["detail"]}
        assert locs[("body", "data", 0, "tenur")] == "unknown_field"
        assert locs[("body", "data", 0, "contract")] == "unseen_level"
        assert locs[("body", "data", 0, "tenure")] == "missing_field"
    r = c.post("/api/v1/models/%s/predict" % model, json={"data": [clean], "strict": True})
    assert r.status_code == 200 and r.json()["warnings"] == []
    # A thousand rows with the same misspelling: one warning, its count.
    r = c.post("/api/v1/models/%s/predict" % model, json={"data": [odd] * 1000})
    w = {(x["code"], x["field"]): x for x in r.json()["warnings"]}
    assert w[("unknown_field", "tenur")]["count"] == 1000
    assert len(w[("unknown_field", "tenur")]["rows"]) == 10


def test_delete_refused_while_pinned_or_in_use_then_gone(mine, trained, sql, churn_csv):
    ws, key, c = mine
    ds, task, model = trained
    c.request("PATCH", "/api/v1/models/%s" % model, json={"pinned": True})
    r = c.delete("/api/v1/models/%s" % model)
    assert r.status_code == 409, r.text
    assert "pinned" in r.json()["detail"]
    assert c.request("PATCH", "/api/v1/models/%s" % model,
                     json={"pinned": False}).status_code == 200
    # An unfinished job naming the model in its spec (a warm start, an
    # ensemble): held by a lease nobody renews before the test ends.
    job = sql("INSERT INTO jobs (workspace_id, dialect, state, spec, lease_owner, "
              "lease_expires_at, started_at) SELECT id, 'akkio', 'running', "
              "jsonb_build_object('base', jsonb_build_object('model_id', :'p2')), "
              "'test-holder', now() + interval '1 hour', now() FROM workspaces "
              "WHERE name = :'p1' RETURNING id", ws, model)[0][0]
    try:
        r = c.delete("/api/v1/models/%s" % model)
        assert r.status_code == 409, r.text
        assert job in r.json()["detail"] and "running" in r.json()["detail"]
        assert c.get("/api/v1/models/%s" % model).status_code == 200
    finally:
        sql("UPDATE jobs SET state = 'failed', finished_at = now(), lease_owner = NULL, "
            "lease_expires_at = NULL WHERE id = :'p1'", job)
    # A worker that cached the model before must not keep answering for it.
    row = {k: v for k, v in next(csv.DictReader(io.StringIO(churn_csv))).items()
           if k != "churn"}
    for _ in range(4):
        assert c.post("/api/v1/models/%s/predict" % model,
                      json={"data": [row]}).status_code == 200
    r = c.delete("/api/v1/models/%s" % model)
    assert r.status_code == 200, r.text
    assert r.json() == {"model_id": model, "deleted": True}
    assert c.get("/api/v1/models/%s" % model).status_code == 404
    assert model not in c.get("/api/v1/models").text
    # Workers recheck a model they predicted with once a second
    # (handlers/models.c): past that, none answers for it.
    time.sleep(1.2)
    for _ in range(6):
        assert c.post("/api/v1/models/%s/predict" % model,
                      json={"data": [row]}).status_code == 404
    assert c.delete("/api/v1/models/%s" % model).status_code == 404


def test_workspace_dialect_models_carry_lineage(mine):
    ws, key, c = mine
    bundle_csv = "churn,x,kind\n" + "".join(
        "%s,%d,%s\n" % ("Yes" if i % 3 else "No", (i * 7) % 10, "ab"[i % 2]) for i in range(90))
    import json
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("trainyard.json", json.dumps(
                {"dataset": "d.csv", "predict_fields": ["churn"], "duration": 10}).encode()),
                ("d.csv", bundle_csv.replace(",", "|").encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    r = c.post("/train/%s" % ws, data=buf.getvalue(),
               headers={"Content-Type": "application/gzip"})
    assert r.status_code == 200, r.text
    from conftest import job_id_of
    job = job_id_of(r.json())
    deadline = time.time() + 180
    while time.time() < deadline:
        doc = c.get("/train/%s/%s" % (ws, job)).json()["response"]
        if doc.get("models"):
            break
        assert doc.get("state") not in ("failed", "killed", "timed_out"), doc
        time.sleep(0.5)
    m = doc["models"][0]
    assert m["lineage"]["job"]["job_id"] == job
    assert m["lineage"]["job"]["dialect"] == "workspace"
    assert m["lineage"]["dataset"]["delimiter"] == "|"
    assert m["lineage"]["code"] is not None  # the bundle the job came from
    assert len(m["lineage"]["code"]["sha256"]) == 64



@pytest.fixture(scope="module")
def numeric(mine):
    """A model of numbers only, trained from a table with a constant column
    (dropped at training): its plain rows are checked while they are read."""
    ws, key, c = mine
    lines = ["x1,x2,x3,k,y"]
    for i in range(400):
        x1, x2, x3 = (i * 37) % 101, (i * 53) % 97 / 10, (i * 11) % 13
        lines.append("%d,%.1f,%d,7,%s" % (x1, x2, x3, "yes" if x1 + 3 * x3 > 70 else "no"))
    ds = c.upload_csv("\n".join(lines) + "\n", name="numbers")
    task = c.train(ds["dataset_id"], ["y"], duration=10)
    c.wait_success(task, timeout=240)
    result = c.result(task)
    return result["model_id"], result


def test_plain_rows_checked_with_dropped_columns_known(mine, numeric):
    ws, key, c = mine
    model, result = numeric
    assert {"field": "k", "reason": "constant"} in result["dropped_fields"], result
    url = "/api/v1/models/%s/predict" % model
    plain = {"x1": 80, "x2": 1.5, "x3": 4}
    # The training table's own row: its constant column and its label are
    # known to the model, so nothing is told.
    r = c.post(url, json={"data": [dict(plain, k=7, y="yes"), plain]})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["warnings"] == [] and doc["predictions"][0] == doc["predictions"][1], doc
    # Among a thousand plain rows, the two that differ are found by index.
    rows = [dict(plain, x1=i % 100) for i in range(1000)]
    rows[500] = dict(rows[500], x4=1)
    del rows[700]["x2"]
    r = c.post(url, json={"data": rows})
    assert r.status_code == 200, r.text
    w = {(x["code"], x["field"]): (x["count"], x["rows"]) for x in r.json()["warnings"]}
    assert w == {("unknown_field", "x4"): (1, [500]),
                 ("missing_field", "x2"): (1, [700])}, r.json()["warnings"]
    r = c.post(url, json={"data": rows, "strict": True})
    assert r.status_code == 422, r.text
    locs = {tuple(d["loc"]): d["type"] for d in r.json()["detail"]}
    assert locs == {("body", "data", 500, "x4"): "unknown_field",
                    ("body", "data", 700, "x2"): "missing_field"}, locs
    # A value of the wrong type: refused as such; under strict the check's
    # findings answer first, as they always have.
    bad = [plain, dict(plain, x1="abc"), dict(plain, x5=0)]
    r = c.post(url, json={"data": bad})
    assert r.status_code == 422, r.text
    assert [(d["loc"], d["type"]) for d in r.json()["detail"]] == \
        [(["body", "data", 1, "x1"], "float_parsing")], r.text
    r = c.post(url, json={"data": bad, "strict": True})
    assert r.status_code == 422, r.text
    assert [(d["loc"], d["type"]) for d in r.json()["detail"]] == \
        [(["body", "data", 2, "x5"], "unknown_field")], r.text


def test_plain_batch_read_from_text_answers_as_the_general_path(mine, numeric):
    """A plain JSON batch is read straight from its text (ml/rowjson.h); any
    other takes json-c's path. Both must give the same answer to the same
    rows, to the last digit, explanations included."""
    ws, key, c = mine
    model, result = numeric
    url = "/api/v1/models/%s/predict" % model
    rows = [{"x1": i % 100, "x2": (i * 7 % 97) / 10, "x3": i % 13, "k": 7} for i in range(1000)]
    rows[3]["x2"] = None                      # a missing value is plain
    rows[4]["x1"] = 1.5e-3                    # exponent form
    plain = c.post(url, json={"data": rows, "explain": True})
    assert plain.status_code == 200, plain.text
    # The same rows, made not plain by a last row the check tells of.
    general = c.post(url, json={"data": rows + [dict(rows[0], extra=1)], "explain": True})
    assert general.status_code == 200, general.text
    assert plain.json()["warnings"] == []
    assert [w["code"] for w in general.json()["warnings"]] == ["unknown_field"]
    assert plain.json()["predictions"] == general.json()["predictions"][:1000]
    assert "explanation" in plain.json()["predictions"][0]
    # strict/explain from the query on a plain body; a bad one still 422s.
    r = c.post(url, params={"strict": "true"}, json={"data": rows[:5]})
    assert r.status_code == 200 and r.json()["warnings"] == [], r.text
    r = c.post(url, params={"explain": "maybe"}, json={"data": rows[:5]})
    assert r.status_code == 422 and "explain" in r.text, r.text
    # Not decided by the plain reader: malformed JSON, an unknown model (a bad
    # body is told first), numbers past a float, a top-level key it does not
    # know, a row that is not an object.
    r = c.post(url, data=b'{"data": [{"x1": 1, "x2": 2, "x3": 3}', headers={
        "Content-Type": "application/json"})
    assert r.json()["detail"][0]["type"] == "json_invalid", r.text
    other = "/api/v1/models/%s/predict" % uuid.uuid4()
    assert c.post(other, json={"data": rows[:2]}).status_code == 404
    r = c.post(other, data=b'{"data": [', headers={"Content-Type": "application/json"})
    assert r.json()["detail"][0]["type"] == "json_invalid", r.text
    r = c.post(url, data=b'{"data": [{"x1": 1e39, "x2": 2, "x3": 3}]}',
               headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "finite_number", r.text
    r = c.post(url, json={"data": rows[:2], "note": "hi"})
    assert r.status_code == 200, r.text
    r = c.post(url, json={"data": [rows[0], 7]})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "data", 1], r.text

    # A model with a category: known levels are plain; a padded one is not,
    # and is read to the same value.
    lines = ["x1,g,y"] + ["%d,%s,%s" % (i % 50, "abc"[i % 3], "yes" if (i % 50) > 20 + 5 * (i % 3)
                                         else "no") for i in range(300)]
    ds = c.upload_csv("\n".join(lines) + "\n", name="levels")
    task = c.train(ds["dataset_id"], ["y"], duration=10)
    c.wait_success(task, timeout=240)
    curl = "/api/v1/models/%s/predict" % c.result(task)["model_id"]
    known = [{"x1": 30, "g": "b"}, {"x1": 10, "g": None}]
    a = c.post(curl, json={"data": known + [{"x1": 30, "g": "b"}]})
    b = c.post(curl, json={"data": known + [{"x1": 30, "g": " b "}]})
    assert a.status_code == 200 and b.status_code == 200, (a.text, b.text)
    assert a.json()["warnings"] == [] and b.json()["warnings"] == [], (a.text, b.text)
    assert a.json()["predictions"] == b.json()["predictions"]
    r = c.post(curl, json={"data": known + [{"x1": 30, "g": "zzz"}]})
    assert [w["code"] for w in r.json()["warnings"]] == ["unseen_level"], r.text
