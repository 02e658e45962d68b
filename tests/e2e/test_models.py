"""Models: show, predict (JSON, XML, form, legacy /v1/models), download, and
the downloaded model reloaded with Debian's python3-xgboost giving the same
predictions as the API (the encoding comes from tests/e2e/trainyard_preprocess.py,
which reads the archive's preprocess.json)."""
import csv
import io
import json
import os
import tarfile
import zipfile
from urllib.parse import urlencode

import pytest

HERE = os.path.dirname(__file__)


@pytest.fixture(scope="module")
def churn_model(api, background):
    task = background.task("churn")
    api.wait_success(task, timeout=180)
    return api.result(task)["model_id"]


@pytest.fixture(scope="module")
def wine_model(api, background):
    task = background.task("wine")
    api.wait_success(task, timeout=180)
    return api.result(task)["model_id"]


def churn_rows(churn_csv, n=20):
    rows = list(csv.DictReader(io.StringIO(churn_csv)))[:n]
    for r in rows:
        r.pop("churn")
    return rows


def test_model_show(api, churn_model):
    r = api.get("/api/v1/models/%s" % churn_model)
    assert r.status_code == 200
    doc = r.json()
    assert doc["model_id"] == churn_model
    assert doc["metrics"]
    assert isinstance(doc["candidates"], list) and doc["candidates"]


def test_predict_binary(api, churn_model, churn_csv):
    rows = churn_rows(churn_csv)
    r = api.post("/api/v1/models/%s/predict" % churn_model, json={"data": rows})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["status"] == "success"
    preds = doc["predictions"]
    assert len(preds) == len(rows)
    for p in preds:
        assert p["churn"] in ("No", "Yes")
        pn, py = p["Probability churn is No"], p["Probability churn is Yes"]
        assert abs(pn + py - 1) < 1e-4
        assert (p["churn"] == "Yes") == (py > pn) or abs(py - pn) < 1e-6


def test_predict_large_batch(api, churn_model, churn_csv):
    # 10,000 rows of the wide churn table is ~5 MB and ~200,000 fields: past
    # nginx's default body size and a fixed per-body field cap, both of which
    # once refused it.
    rows = churn_rows(churn_csv, n=1000)
    batch = (rows * (10000 // len(rows) + 1))[:10000]
    r = api.post("/api/v1/models/%s/predict" % churn_model, json={"data": batch})
    assert r.status_code == 200, r.text[:300]
    assert len(r.json()["predictions"]) == 10000
    timing = dict(part.strip().split(";dur=")
                  for part in r.headers.get("Server-Timing", "").split(","))
    assert set(timing) == {"decode", "predict"}, timing
    assert float(timing["predict"]) > 0 and float(timing["decode"]) > 0, timing


def test_predict_missing_fields_are_missing_values(api, churn_model):
    r = api.post("/api/v1/models/%s/predict" % churn_model, json={"data": [{"tenure": 3}, {}]})
    assert r.status_code == 200, r.text
    assert len(r.json()["predictions"]) == 2


def test_predict_bad_values_reported_per_row(api, churn_model, churn_csv, api_worker_pids):
    before = api_worker_pids()
    rows = churn_rows(churn_csv, 2)
    rows[1]["tenure"] = "lots"
    rows[1]["contract"] = "Eleven years"
    r = api.post("/api/v1/models/%s/predict" % churn_model, json={"data": rows})
    assert r.status_code == 422, r.text
    text = json.dumps(r.json())
    assert "tenure" in text
    # Nothing crashed.
    assert api_worker_pids() == before


@pytest.mark.parametrize("body", [{}, {"data": "x"}, {"data": [1, 2]}])
def test_predict_bad_body(api, churn_model, body):
    r = api.post("/api/v1/models/%s/predict" % churn_model, json=body)
    assert r.status_code == 422
    assert isinstance(r.json()["detail"], list)


def test_predict_unknown_model(api, other):
    r = api.post("/api/v1/models/00000000-0000-0000-0000-000000000000/predict",
                 json={"data": [{}]})
    assert r.status_code == 404


def test_predict_other_workspace_model_is_404(other, churn_model):
    _, _, them = other
    assert them.post("/api/v1/models/%s/predict" % churn_model,
                     json={"data": [{}]}).status_code == 404
    assert them.get("/api/v1/models/%s" % churn_model).status_code == 404
    assert them.get("/api/v1/models/%s/download" % churn_model).status_code == 404


def test_predict_xml_and_form_single_row(api, churn_model, churn_csv):
    row = churn_rows(churn_csv, 1)[0]
    js = api.post("/api/v1/models/%s/predict" % churn_model, json={"data": [row]}).json()
    xml = "<item>" + "".join("<%s>%s</%s>" % (k, v, k) for k, v in row.items()) + "</item>"
    rx = api.post("/api/v1/models/%s/predict" % churn_model, data=xml.encode(),
                  headers={"Content-Type": "application/xml"})
    assert rx.status_code == 200, rx.text
    rf = api.post("/api/v1/models/%s/predict" % churn_model, data=urlencode(row),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert rf.status_code == 200, rf.text
    p = js["predictions"][0]["Probability churn is Yes"]
    assert abs(rx.json()["predictions"][0]["Probability churn is Yes"] - p) < 1e-6
    assert abs(rf.json()["predictions"][0]["Probability churn is Yes"] - p) < 1e-6


def test_legacy_v1_models(api, anon, churn_model, churn_csv, dev_key):
    rows = churn_rows(churn_csv, 3)
    r = anon.post("/v1/models", no_key=True,
                  json={"id": churn_model, "data": rows, "api_key": dev_key})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "success" and len(r.json()["predictions"]) == 3
    r = anon.post("/v1/models", no_key=True, json={"id": churn_model, "data": rows,
                                                   "api_key": "wrong"})
    assert r.status_code == 401
    assert r.json() == {"status": "missing or invalid API key"}


def test_predict_multiclass(api, wine_model):
    with open("/work/shared/datasets/wine_test.csv") as f:
        rows = list(csv.DictReader(f))[:5]
    for r in rows:
        r.pop("target")
    resp = api.post("/api/v1/models/%s/predict" % wine_model, json={"data": rows})
    assert resp.status_code == 200, resp.text
    for p in resp.json()["predictions"]:
        probs = [v for k, v in p.items() if k.startswith("Probability target is")]
        assert len(probs) == 3 and abs(sum(probs) - 1) < 1e-4


def unpack(data):
    """{name: bytes} of a tar (any compression) or zip archive."""
    out = {}
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for n in z.namelist():
                out[os.path.basename(n)] = z.read(n)
        return out
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as t:
        for m in t.getmembers():
            if m.isfile():
                out[os.path.basename(m.name)] = t.extractfile(m).read()
    return out


def test_download_roundtrip_with_python_xgboost(api, churn_model, churn_csv, tmp_path):
    import numpy as np
    import xgboost
    import sys
    sys.path.insert(0, HERE)
    import trainyard_preprocess as tp

    r = api.get("/api/v1/models/%s/download" % churn_model)
    assert r.status_code == 200
    files = unpack(r.content)
    ubj = [n for n in files if n.endswith(".ubj")]
    assert ubj and "preprocess.json" in files, list(files)
    model_path = tmp_path / ubj[0]
    model_path.write_bytes(files[ubj[0]])
    booster = xgboost.Booster()
    booster.load_model(str(model_path))
    pre = json.loads(files["preprocess.json"])

    rows = churn_rows(churn_csv, 50)
    api_preds = api.post("/api/v1/models/%s/predict" % churn_model,
                         json={"data": rows}).json()["predictions"]
    local = np.asarray(tp.predict(str(model_path), pre, rows))
    api_yes = np.array([p["Probability churn is Yes"] for p in api_preds])
    if local.ndim == 2:
        classes = [str(c) for c in pre.get("classes", ["No", "Yes"])]
        local = local[:, classes.index("Yes")]
    assert np.allclose(local, api_yes, atol=1e-5), (local[:5], api_yes[:5])


def test_ensemble_download_roundtrip_with_python_xgboost(api, tmp_path):
    """An ensemble (credit_data, seed 1, 8 candidates: two trees and the
    linear model blend better than any of them on validation) downloads as
    model.ubj (the tree members as one booster) plus member-<i>.ubj and the
    recipe in preprocess.json; stock XGBoost reproduces the API's
    predictions from model.ubj and the linear member's coefficients, and
    from the members by the recipe; explanations still sum to the margin;
    the linear member's file (gblinear) predicts what its coefficients give
    on the linear model's own inputs; the shipped scorer matches bit for
    bit."""
    import numpy as np
    import sys
    sys.path.insert(0, HERE)
    import trainyard_preprocess as tp
    from conftest import DATASETS

    with open(os.path.join(DATASETS, "credit_data_train.csv"), "rb") as f:
        ds = api.upload_csv(f.read(), name="credit_ensemble")
    task = api.train(ds["dataset_id"], ["Status"], duration=60, seed=1, max_models=8)
    api.wait_success(task, timeout=240)
    res = api.result(task)
    assert res["models"][0]["model"] == "ensemble", res["models"][0].get("model")
    assert res["stopped"]["reason"] == "max_models", res["stopped"]
    model_id = res["model_id"]
    files = unpack(api.get("/api/v1/models/%s/download" % model_id).content)
    pre = json.loads(files["preprocess.json"])
    members = pre["ensemble"]["members"]
    assert len(members) >= 2 and abs(sum(m["weight"] for m in members) - 1) < 1e-9
    paths = []
    for m in members:
        p = tmp_path / m["file"]
        p.write_bytes(files[m["file"]])
        paths.append(str(p))
    blend = tmp_path / "model.ubj"
    blend.write_bytes(files["model.ubj"])

    with open(os.path.join(DATASETS, "credit_data_test.csv"), newline="") as f:
        rows = list(csv.DictReader(f))[:200]
    for r in rows:
        r.pop("Status")
    resp = api.post("/api/v1/models/%s/predict" % model_id, json={"data": rows, "explain": True})
    assert resp.status_code == 200, resp.text
    preds = resp.json()["predictions"]
    classes = [str(c) for c in pre["classes"]]
    key = "Probability Status is %s" % classes[1]
    api_p = np.array([p[key] for p in preds])
    local = np.asarray(tp.predict(str(blend), pre, rows))[:, 1]
    by_recipe = np.asarray(tp.predict_members(paths, pre, rows))[:, 1]
    assert np.allclose(local, api_p, atol=1e-5), (local[:5], api_p[:5])
    assert np.allclose(by_recipe, api_p, atol=1e-4), (by_recipe[:5], api_p[:5])
    for p in preds[:20]:
        ex = p["explanation"]
        margin = ex["bias"] + sum(ex["contributions"].values())
        assert abs(1 / (1 + np.exp(-margin)) - p[key]) < 1e-4

    # The linear member is served beside model.ubj (which holds the trees
    # alone): its file is a gblinear model on its own expanded input and
    # predicts what its coefficients give.
    linear = [(path, m) for path, m in zip(paths, members) if m["model"] == "linear"]
    assert len(linear) == 1, [m["model"] for m in members]
    path, m = linear[0]
    lin = m["linear"]
    lin_pre = {"model": "linear", "features": lin["inputs"]}
    assert tp.feature_info(lin_pre)[0] + ["(bias)"] == lin["columns"]
    assert len(lin["means"]) == len(lin["columns"]) - 1
    coef = np.asarray(lin["coefficients"], dtype=np.float64)
    X = tp.to_matrix(rows, lin_pre).astype(np.float64)
    by_coef = X @ coef[:-1, 0] + coef[-1, 0]
    import xgboost
    by_file = xgboost.Booster(model_file=path).predict(tp.dmatrix(rows, lin_pre),
                                                       output_margin=True)
    assert np.abs(by_file - by_coef).max() < 1e-4, np.abs(by_file - by_coef).max()
    # The trees alone are not the model: the linear margin is part of it.
    trees_only = xgboost.Booster(model_file=str(blend)).predict(tp.dmatrix(rows, pre))
    assert np.abs(trees_only - api_p).max() > 1e-3

    # The official scorer shipped in the archive gives the API's answers bit
    # for bit (the margins summed in the same order, the link in double).
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    for name, data in files.items():
        (unpacked / name).write_bytes(data)
    sys.path.insert(0, str(unpacked))
    try:
        import trainyard_scorer
        got = trainyard_scorer.load(str(unpacked)).predict(rows)
    finally:
        sys.path.remove(str(unpacked))
    plain = api.post("/api/v1/models/%s/predict" % model_id, json={"data": rows}).json()
    for g, want in zip(got, plain["predictions"]):
        assert g["Status"] == want["Status"]
        assert np.float32(g[key]) == np.float32(want[key]), (g, want)
