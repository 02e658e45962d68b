"""What the web console reads from the API, checked at the API: the chart data
in training results (beside Akkio's keys, consistent with them), the dataset
preview route and the distinct counts of the upload summary, and the static
console itself (served locally, pinned, no other origin)."""
import re
import uuid

import pytest


def charts_of(res, i=0):
    return res["models"][i]["charts"]


def test_binary_result_carries_curves_and_matrix(api, background):
    task = background.task("churn")
    api.wait_success(task)
    res = api.result(task)
    # Akkio's keys first and unchanged.
    assert list(res)[:5] == ["status", "model_id", "stats", "field_importance", "data_story"]
    ch = charts_of(res)
    cm = ch["confusion_matrix"]
    stats = {c["class_name"]: c for c in res["stats"][0]}
    assert cm["labels"] == [c["class_name"] for c in res["stats"][0]]
    # The matrix agrees with Akkio's per-class stats: row sums are the class
    # counts, the diagonal the true positives.
    for a, label in enumerate(cm["labels"]):
        assert sum(cm["matrix"][a]) == stats[label]["count"]
        assert cm["matrix"][a][a] == stats[label]["true positives"]
    roc, pr = ch["roc"], ch["pr"]
    assert roc["positive"] == pr["positive"] == cm["labels"][1]
    pts = roc["points"]
    assert pts[0][:2] == [0, 0] and pts[-1][:2] == [1, 1] and len(pts) <= 201
    assert all(p[0] >= q[0] and p[1] >= q[1] for q, p in zip(pts, pts[1:]))
    # AUC from the curve's points (trapezoids) is close to the one stated,
    # and the one stated is the validation metric the model was chosen by.
    trap = sum((p[0] - q[0]) * (p[1] + q[1]) / 2 for q, p in zip(pts, pts[1:]))
    assert abs(trap - roc["auc"]) < 0.02
    assert roc["auc"] == pytest.approx(res["models"][0]["validation_metrics"]["value"], abs=1e-9)
    assert 0 < pr["average_precision"] <= 1
    assert all(0 <= p[0] <= 1 and 0 <= p[1] <= 1 for p in pr["points"])
    # Exactly one candidate is the kept one, and it says why; a blend is
    # chosen as a whole: then no candidate is, and its members carry their
    # weights instead.
    cands = res["models"][0]["candidates"]
    chosen = [c for c in cands if c.get("chosen")]
    if res["models"][0]["model"] == "ensemble":
        weights = [c["blend_weight"] for c in cands if "blend_weight" in c]
        assert not chosen and len(weights) >= 2
        assert sum(weights) == pytest.approx(1, abs=1e-6)
    else:
        assert len(chosen) == 1 and chosen[0]["why"]
        assert chosen[0]["model"] == res["models"][0]["model"]


def test_multiclass_result_matrix_has_no_curves(api, background):
    task = background.task("wine")
    api.wait_success(task)
    ch = charts_of(api.result(task))
    labels = ch["confusion_matrix"]["labels"]
    assert len(labels) == 3 and len(ch["confusion_matrix"]["matrix"]) == 3
    assert "roc" not in ch and "pr" not in ch


def test_regression_result_carries_residual_sample(api, background):
    task = background.task("diamonds")
    api.wait_success(task)
    res = api.result(task)
    r = charts_of(res)["residuals"]
    assert len(r["actual"]) == len(r["predicted"]) == min(500, r["count"])
    stats = res["stats"][0][0]
    assert r["count"] == stats["count"]
    assert "confusion_matrix" not in charts_of(res)
    # The sample's RMSE is in the neighbourhood of the stated one.
    n = len(r["actual"])
    rmse = (sum((a - p) ** 2 for a, p in zip(r["actual"], r["predicted"])) / n) ** 0.5
    assert 0.5 * stats["rmse"] < rmse < 2 * stats["rmse"]


def test_dataset_preview_first_rows(api, churn, churn_csv):
    lines = churn_csv.splitlines()
    r = api.get("/api/v1/datasets/%s/preview?rows=3" % churn["dataset_id"])
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["fields"] == lines[0].split(",")
    assert [",".join(row) for row in doc["rows"]] == lines[1:4]
    assert doc["more"] is True
    whole = api.get("/api/v1/datasets/%s/preview?rows=200" % churn["dataset_id"]).json()
    assert len(whole["rows"]) == 200


def test_dataset_preview_quoted_cells_and_end(api):
    csv = 'name,note,n\n"Smith, J","said ""hi""",1\nLee,"two\nlines",2\n'
    ds = api.upload_csv(csv, name="preview-quotes")
    doc = api.get("/api/v1/datasets/%s/preview" % ds["dataset_id"]).json()
    assert doc["rows"] == [["Smith, J", 'said "hi"', "1"], ["Lee", "two\nlines", "2"]]
    assert doc["more"] is False


@pytest.mark.parametrize("query, field", [("rows=0", "rows"), ("rows=201", "rows"),
                                          ("rows=x", "rows")])
def test_dataset_preview_bad_query(api, churn, query, field):
    r = api.get("/api/v1/datasets/%s/preview?%s" % (churn["dataset_id"], query))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["query", field]


def test_dataset_preview_unknown(api):
    r = api.get("/api/v1/datasets/%s/preview" % uuid.uuid4())
    assert r.status_code == 404 and "no dataset" in r.json()["detail"]


def test_upload_counts_distinct_text_values(api, churn):
    fields = {f["name"]: f for f in churn["fields"]}
    assert fields["contract"]["distinct"] == 3
    assert fields["payment_method"]["distinct"] == 4
    assert fields["churn"]["distinct"] == 2
    assert "distinct" not in fields["tenure"]  # numbers are not counted
    shown = api.get("/api/v1/datasets/%s" % churn["dataset_id"]).json()
    assert {f["name"]: f.get("distinct") for f in shown["fields"]} == \
        {f["name"]: f.get("distinct") for f in churn["fields"]}


def test_console_served_locally(anon):
    r = anon.get("/", no_key=True)
    assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', r.text)
    assert any(a.endswith("chart.umd.js") for a in assets)
    for a in assets:
        if a.startswith("/assets/"):
            got = anon.get(a, no_key=True)
            assert got.status_code == 200, a
    assert not re.search(r'(?:src|href)="(?:https?:)?//', r.text), "no asset from another origin"
    versions = anon.get("/assets/vendor/VERSIONS", no_key=True).text
    assert re.search(r"^chart\.js \d+\.\d+\.\d+$", versions, re.M)
    docs = anon.get("/docs", no_key=True)
    assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text
    assert anon.get("/docs/", no_key=True).status_code == 200
