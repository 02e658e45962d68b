"""Batch scoring through nginx: text/csv in, text/csv out on the predict
route (the JSON route's answers, streamed, past the JSON body limit, in a
bounded worker), per-row errors and notes, strict refusals before any
output; the evaluation route on a labelled CSV and on a stored dataset."""
import csv
import io
import json
import math
import os

import pytest

from conftest import DATASETS, read_text

CSV = {"Content-Type": "text/csv"}


@pytest.fixture(scope="module")
def churn_model(api, background):
    task = background.task("churn")
    api.wait_success(task, timeout=240)
    return api.result(task)["model_id"]


@pytest.fixture(scope="module")
def diamonds_model(api, background):
    task = background.task("diamonds")
    api.wait_success(task, timeout=240)
    return api.result(task)["model_id"]


def parse_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def dict_rows(text, n=None):
    rows = list(csv.DictReader(io.StringIO(text)))
    return rows[:n] if n else rows


def test_csv_predictions_are_the_json_ones(api, churn_model, churn_csv):
    r = api.post("/api/v1/models/%s/predict" % churn_model, data=churn_csv.encode(),
                 headers=CSV)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"].startswith("text/csv")
    got = parse_csv(r.text)
    rows = dict_rows(churn_csv)
    assert len(got) == len(rows)
    assert list(got[0]) == ["churn", "Probability churn is No", "Probability churn is Yes",
                            "warnings", "error"]
    want = api.post("/api/v1/models/%s/predict" % churn_model,
                    json={"data": rows}).json()["predictions"]
    for g, w in zip(got, want):
        assert g["churn"] == w["churn"] and g["error"] == "" and g["warnings"] == ""
        for k in ("Probability churn is No", "Probability churn is Yes"):
            assert float(g[k]) == w[k], (g, w)
    # The same rows with ';' (sniffed) give the same answer.
    semi = io.StringIO()
    csv.writer(semi, delimiter=";", lineterminator="\n").writerows(
        csv.reader(io.StringIO(churn_csv)))
    r2 = api.post("/api/v1/models/%s/predict" % churn_model, data=semi.getvalue().encode(),
                  headers=CSV)
    assert r2.status_code == 200 and r2.text == r.text


def test_csv_regression_columns(api, diamonds_model):
    text = read_text(os.path.join(DATASETS, "diamonds_test.csv"), 51)
    r = api.post("/api/v1/models/%s/predict" % diamonds_model, data=text.encode(), headers=CSV)
    assert r.status_code == 200, r.text[:300]
    got = parse_csv(r.text)
    assert list(got[0]) == ["price", "warnings", "error"] and len(got) == 50
    want = api.post("/api/v1/models/%s/predict" % diamonds_model,
                    json={"data": dict_rows(text)}).json()["predictions"]
    assert [float(g["price"]) for g in got] == [w["price"] for w in want]


def test_csv_row_errors_notes_and_header_warnings(api, churn_model, churn_csv):
    table = list(csv.reader(io.StringIO(churn_csv)))
    cols, rows = table[0], table[1:4]
    bad = list(rows[1])
    bad[cols.index("tenure")] = "abc"                 # not a number: that row only
    odd = list(rows[2])
    odd[cols.index("contract")] = "Three year"        # a level never seen

    def body(extra):
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(cols + (["extra"] if extra else []))
        for i, row in enumerate((rows[0], bad, odd)):
            w.writerow(row + ([str(i)] if extra else []))
        return out.getvalue().encode()

    r = api.post("/api/v1/models/%s/predict" % churn_model, data=body(True), headers=CSV)
    assert r.status_code == 200, r.text
    warn = json.loads(r.headers["Trainyard-Warnings"])
    assert [(x["code"], x["field"]) for x in warn] == [("unknown_field", "extra")]
    got = parse_csv(r.text)
    assert got[0]["churn"] in ("No", "Yes") and got[0]["error"] == ""
    assert got[1]["churn"] == "" and got[1]["error"].startswith("tenure"), got[1]
    assert got[2]["churn"] in ("No", "Yes")
    assert got[2]["warnings"] == "unseen_level contract=Three year", got[2]
    # strict: an unknown column is refused before any output, named as a column...
    r = api.post("/api/v1/models/%s/predict" % churn_model, data=body(True), headers=CSV,
                 params={"strict": "true"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "columns", "extra"]
    # ...and the unseen level's row is refused in its error cell.
    r = api.post("/api/v1/models/%s/predict" % churn_model, data=body(False), headers=CSV,
                 params={"strict": "true"})
    assert r.status_code == 200, r.text
    assert "Trainyard-Warnings" not in r.headers
    got = parse_csv(r.text)
    assert got[0]["error"] == "" and got[2]["churn"] == ""
    assert got[2]["error"] == "refused (strict): unseen_level contract=Three year"


def test_csv_errors_before_and_after_output(api, churn_model, churn_csv):
    # Nothing sent yet: the dialect's error.
    r = api.post("/api/v1/models/%s/predict" % churn_model, data=b"", headers=CSV)
    assert r.status_code == 400 and "header" in r.json()["detail"]
    # A ragged row after the first batches went out: the last line says so.
    lines = churn_csv.splitlines()
    body = "\n".join([lines[0]] + lines[1:] * 6 + ["No,1,2"] + lines[1:3]) + "\n"
    r = api.post("/api/v1/models/%s/predict" % churn_model, data=body.encode(), headers=CSV)
    assert r.status_code == 200
    got = parse_csv(r.text)
    assert len(got) == 500 * 6 + 1  # every row before the fault, then the fault
    assert all(g["error"] == "" for g in got[:-1])
    assert got[-1]["error"].startswith("stopped after"), got[-1]
    assert "ragged row" in got[-1]["error"]


def test_csv_past_the_json_limit_in_a_bounded_worker(api, churn_model, churn_csv,
                                                     api_worker_pids):
    lines = churn_csv.splitlines()
    reps = 40 * 1024 * 1024 // len(churn_csv) + 1   # ~40 MB, past the 32 MB JSON cap
    body = (lines[0] + "\n" + ("\n".join(lines[1:]) + "\n") * reps).encode()
    assert len(body) > 32 * 1024 * 1024
    r = api.post("/api/v1/models/%s/predict" % churn_model, data=body, headers=CSV,
                 timeout=600, stream=True)
    assert r.status_code == 200
    n = 0
    last = None
    for line in r.iter_lines():
        n += 1
        last = line
    assert n == 1 + 500 * reps
    assert last.endswith(b",,"), last[-200:]  # a prediction, no error line
    if os.environ.get("TRAINYARD_E2E_ASAN"):
        return
    for pid in api_worker_pids():
        with open("/proc/%d/status" % pid) as f:
            hwm = [int(l.split()[1]) for l in f if l.startswith("VmHWM")][0]
        assert hwm < 64 * 1024, (pid, hwm)  # kB: streamed, not held


def test_evaluate_csv_and_dataset(api, background, churn_model, churn_csv):
    rows = dict_rows(churn_csv)
    r = api.post("/api/v1/models/%s/evaluate" % churn_model, data=churn_csv.encode(),
                 headers=CSV)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["rows"] == 500 and doc["task"] == "binary"
    assert doc["skipped"] == {"unlabelled": 0, "unknown_label": 0, "refused": 0}
    preds = api.post("/api/v1/models/%s/predict" % churn_model,
                     json={"data": rows}).json()["predictions"]
    acc = sum(p["churn"] == row["churn"] for p, row in zip(preds, rows)) / len(rows)
    assert abs(doc["metrics"]["accuracy"] - acc) < 1e-9
    assert 0.5 < doc["metrics"]["auc"] <= 1 and doc["metrics"]["logloss"] > 0
    assert {s["class"] if "class" in s else s.get("class_name") for s in doc["stats"]}
    assert doc["training_metrics"]
    # The same file stored as a dataset: the same metrics.
    ds = background.datasets["churn"]["dataset_id"]
    r = api.post("/api/v1/models/%s/evaluate" % churn_model, json={"dataset_id": ds})
    assert r.status_code == 200, r.text
    assert r.json()["metrics"] == doc["metrics"]
    assert r.json()["source"]["dataset_id"] == ds


def test_evaluate_regression_and_refusals(api, diamonds_model, churn_model):
    text = read_text(os.path.join(DATASETS, "diamonds_test.csv"), 301)
    lines = text.splitlines()
    lines[5] = "," .join(["" if i == lines[0].split(",").index("price") else v
                          for i, v in enumerate(lines[5].split(","))])
    text = "\n".join(lines) + "\n"
    r = api.post("/api/v1/models/%s/evaluate" % diamonds_model, data=text.encode(), headers=CSV)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["rows"] == 299 and doc["skipped"]["unlabelled"] == 1
    rows = [x for x in dict_rows(text) if x["price"]]
    preds = api.post("/api/v1/models/%s/predict" % diamonds_model,
                     json={"data": rows}).json()["predictions"]
    rmse = math.sqrt(sum((p["price"] - float(x["price"])) ** 2
                         for p, x in zip(preds, rows)) / len(rows))
    assert abs(doc["metrics"]["rmse"] - rmse) / rmse < 1e-4, (doc["metrics"], rmse)
    # No target column; an unknown dataset; neither body.
    r = api.post("/api/v1/models/%s/evaluate" % diamonds_model, data=b"carat,cut\n1,Ideal\n",
                 headers=CSV)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "price"]
    r = api.post("/api/v1/models/%s/evaluate" % churn_model,
                 json={"dataset_id": "00000000-0000-4000-8000-000000000000"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "dataset_id"]
    r = api.post("/api/v1/models/%s/evaluate" % churn_model, json={})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "dataset_id"]
