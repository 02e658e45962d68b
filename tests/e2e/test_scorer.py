"""The portable model: a download holds the booster, preprocess.json (with
its documented version), the official scorer and its README; the scorer,
run with Debian's python3-xgboost outside the stack, answers exactly what
the API answers, on a binary, a multiclass and a regression model, from
JSON rows and from a CSV file."""
import csv
import io
import json
import os
import re
import subprocess
import sys
import tarfile

import pytest

from conftest import DATASETS, read_text

TASKS = {
    # name: (background task, dataset file, rows kept, target)
    "binary": ("churn", None, 200, "churn"),
    "multiclass": ("wine", "wine_test.csv", 200, "target"),
    "regression": ("diamonds", "diamonds_test.csv", 300, "price"),
}


def same(got, api):
    """Bit for bit: the model's outputs are float32, so each probability or
    value must be the same float32 (the API's JSON prints 15 significant
    digits, enough to round-trip a float32, the scorer Python's shortest
    repr of the double); labels must be equal."""
    import numpy as np

    if set(got) != set(api):
        return False
    for k, v in api.items():
        if isinstance(v, float):
            if not isinstance(got[k], float) or np.float32(got[k]) != np.float32(v):
                return False
        elif got[k] != v:
            return False
    return True


def rows_of(text, target, n):
    rows = list(csv.DictReader(io.StringIO(text)))[:n]
    for r in rows:
        r.pop(target, None)
    return rows


@pytest.fixture(scope="module", params=sorted(TASKS))
def case(request, api, background, churn_csv, tmp_path_factory):
    name, path, n, target = TASKS[request.param]
    task = background.task(name)
    api.wait_success(task, timeout=240)
    model = api.result(task)["model_id"]
    text = churn_csv if path is None else read_text(os.path.join(DATASETS, path))
    d = tmp_path_factory.mktemp("scorer-%s" % request.param)
    r = api.get("/api/v1/models/%s/download" % model)
    assert r.status_code == 200, r.text[:300]
    archive = d / ("model-%s.tar.gz" % model)
    archive.write_bytes(r.content)
    return request.param, model, rows_of(text, target, n), text, target, archive, d


def test_archive_holds_model_schema_and_scorer(case):
    kind, model, rows, text, target, archive, d = case
    with tarfile.open(archive) as t:
        names = sorted(m.name for m in t.getmembers()
                       if not re.match(r"member-\d+\.ubj$", m.name))  # an ensemble's
        assert names == ["README.md", "metrics.json", "model.ubj", "preprocess.json",
                         "trainyard_scorer.py"], names
        pre = json.load(t.extractfile("preprocess.json"))
        readme = t.extractfile("README.md").read().decode()
    assert pre["task"] == kind and pre["target"] == target
    # version 2 exactly when some input goes through a transform (a linear
    # model's, or an ensemble's linear member's, log1p)
    member = [m.get("linear", {}) for m in pre.get("ensemble", {}).get("members", [])]
    inputs = pre["features"] + [f for m in member for f in m.get("inputs", [])]
    assert pre["version"] == (2 if any("transform" in f for f in inputs) else 1), pre
    assert "preprocess.json`, versions 1 and 2" in readme and "astype(\"category\")" in readme
    # The shipped files are the tree's (built into the API, not stale).
    root = os.path.join(os.path.dirname(__file__), "..", "..", "scorer")
    with tarfile.open(archive) as t:
        for f in ("trainyard_scorer.py", "README.md"):
            with open(os.path.join(root, f), "rb") as src:
                assert t.extractfile(f).read() == src.read(), f


def test_scorer_module_matches_the_api_bit_for_bit(api, case):
    kind, model, rows, text, target, archive, d = case
    r = api.post("/api/v1/models/%s/predict" % model, json={"data": rows})
    assert r.status_code == 200, r.text[:300]
    expected = r.json()["predictions"]
    code = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import trainyard_scorer
m = trainyard_scorer.load(sys.argv[2])
print(json.dumps(m.predict(json.load(sys.stdin))))
"""
    with tarfile.open(archive) as t:
        t.extractall(d / "unpacked")
    # Loaded both from the archive and from the unpacked folder.
    for src in (str(archive), str(d / "unpacked")):
        p = subprocess.run(["/usr/bin/python3", "-c", code, str(d / "unpacked"), src],
                           input=json.dumps(rows), capture_output=True, text=True,
                           timeout=300)
        assert p.returncode == 0, p.stderr
        got = json.loads(p.stdout)
        assert len(got) == len(expected)
        for i, (g, e) in enumerate(zip(got, expected)):
            assert same(g, e), (kind, i, g, e)


def test_scorer_cli_reads_csv_like_the_api(api, case):
    kind, model, rows, text, target, archive, d = case
    # A ';' CSV (sniffed as the API sniffs it), scored from the shell.
    src = d / "rows.csv"
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    src.write_text(out.getvalue())
    with tarfile.open(archive) as t:
        t.extractall(d / "cli")
    p = subprocess.run(["/usr/bin/python3", str(d / "cli" / "trainyard_scorer.py"),
                        str(archive), str(src)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    got = list(csv.DictReader(io.StringIO(p.stdout)))
    expected = api.post("/api/v1/models/%s/predict" % model,
                        json={"data": rows}).json()["predictions"]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert same({k: (float(v) if isinstance(e[k], float) else v) for k, v in g.items()}, e), \
            (g, e)


def test_pandas_category_trap_is_real(api, case):
    """The README's warning, demonstrated: the codes pandas gives a frame of
    the rows differ from the model's, so astype('category') would feed the
    booster other levels than the ones sent (the scorer's codes are the
    model's)."""
    kind, model, rows, text, target, archive, d = case
    with tarfile.open(archive) as t:
        pre = json.load(t.extractfile("preprocess.json"))
    cats = [f for f in pre["features"] if f["kind"] == "category"]
    if not cats:
        pytest.skip("no category field in the %s model" % kind)
    differs = []
    for f in cats:
        seen = sorted({r[f["name"]] for r in rows if r.get(f["name"]) not in (None, "")})
        pandas_codes = {level: i for i, level in enumerate(seen)}
        model_codes = {level: i for i, level in enumerate(f["levels"])}
        differs += [(f["name"], l) for l in seen
                    if pandas_codes[l] != model_codes.get(l, len(f["levels"]))]
    assert differs, [(f["name"], f["levels"]) for f in cats]


def test_c_scorer_matches_the_api(api, stack, case):
    """trainyard-score (scorer/main.c) reads only the archive's model.ubj and
    preprocess.json, from the .tar.gz and from the unpacked folder, and
    answers the API's predictions; a bad value costs its row only."""
    kind, model, rows, text, target, archive, d = case
    exe = os.path.join(stack.build, "trainyard-score")
    expected = api.post("/api/v1/models/%s/predict" % model,
                        json={"data": rows}).json()["predictions"]
    src = d / "c-rows.csv"
    out = io.StringIO()
    fields = list(rows[0])
    w = csv.DictWriter(out, fieldnames=fields, delimiter="\t", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    src.write_text(out.getvalue())
    folder = d / "c-unpacked"
    with tarfile.open(archive) as t:
        t.extractall(folder)
    for m in (str(archive), str(folder)):
        p = subprocess.run([exe, m, str(src)], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        got = list(csv.DictReader(io.StringIO(p.stdout)))
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g.pop("error") == ""
            assert same({k: (float(v) if isinstance(e[k], float) else v)
                         for k, v in g.items()}, e), (g, e)
    # A row with a wrong-typed value: that row's error, the others scored.
    num = next(f["name"] for f in json.load(open(folder / "preprocess.json"))["features"]
               if f["kind"] == "number")
    bad = [dict(r) for r in rows[:3]]
    bad[1][num] = "not a number"
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(bad)
    p = subprocess.run([exe, str(archive)], input=out.getvalue(), capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    got = list(csv.DictReader(io.StringIO(p.stdout)))
    assert got[0]["error"] == "" and got[2]["error"] == ""
    assert got[1]["error"].startswith(num) and got[1][target] == "", got[1]
    # Not a model: a clear message, exit 1.
    p = subprocess.run([exe, str(src)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "model.ubj" in p.stderr


# --- linear models -------------------------------------------------------------
# max_models=1 trains only the first candidate, the linear path (ml/search.c),
# so the model is linear whatever the data. x_big sits near 1e6 with a small
# spread: its mean needs all 17 significant digits, and a mean cut to 15
# moves every standardised input by ~1e-9 / scale, the last bits of a
# float32. Its values are multiples of 1/16 (exact in float32), so their sum
# is exact in double in any order and the training mean is sum / n, which
# the test can compute itself. amount is log-normal (skewed, > 0, one value
# in 15 missing) and acts through its log, so the path reads it as
# log1p(amount) ("transform": "log1p", preprocess.json version 2).

def linear_csv(n=300, seed=7):
    import math
    import random

    rnd = random.Random(seed)
    lines = ["x_big,x2,colour,amount,y,label"]
    effect = {"red": 5.0, "blue": -2.0, "green": 0.0}
    ys = []
    rows = []
    for i in range(n):
        x_big = 1e6 + rnd.randrange(1600) / 16.0
        x2 = round(rnd.uniform(-3, 3), 3)
        colour = rnd.choice(sorted(effect))
        amount = float("%.4g" % math.exp(rnd.gauss(2, 1.2)))
        y = (2.0 * (x_big - 1e6) - 3.0 * x2 + effect[colour] + 40.0 * math.log1p(amount) +
             rnd.gauss(0, 0.5))
        ys.append(y)
        rows.append((x_big, x2, colour, "" if i % 15 == 7 else repr(amount), y))
    median = sorted(ys)[n // 2]
    for x_big, x2, colour, amount, y in rows:
        lines.append("%r,%r,%s,%s,%.4f,%s" % (x_big, x2, colour, amount, y,
                                               "yes" if y > median else "no"))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def linear_data(api):
    text = linear_csv()
    ds = api.upload_csv(text, name="linear-exact")
    tasks = {kind: api.train(ds["dataset_id"], [target], duration=10, max_models=1, seed=1,
                             ignore_fields=[other])
             for kind, target, other in (("regression", "y", "label"),
                                         ("binary", "label", "y"))}
    return text, tasks


@pytest.fixture(scope="module", params=["regression", "binary"])
def linear_case(request, api, linear_data, tmp_path_factory):
    text, tasks = linear_data
    target = "y" if request.param == "regression" else "label"
    api.wait_success(tasks[request.param], timeout=240)
    model = api.result(tasks[request.param])["model_id"]
    r = api.get("/api/v1/models/%s/download" % model)
    assert r.status_code == 200, r.text[:300]
    d = tmp_path_factory.mktemp("scorer-linear-%s" % request.param)
    archive = d / "model.tar.gz"
    archive.write_bytes(r.content)
    with tarfile.open(archive) as t:
        t.extractall(d / "unpacked")
    rows = [{k: v for k, v in row.items() if k not in ("y", "label")}
            for row in csv.DictReader(io.StringIO(text))][:120]
    # log1p reads an amount below 0 as 0
    rows += [dict(rows[0], amount="-3"), dict(rows[0], amount="0"), dict(rows[1], amount="")]
    return request.param, model, rows, text, target, archive, d


def test_linear_standardisation_is_stored_exactly(linear_case):
    from fractions import Fraction

    kind, model, rows, text, target, archive, d = linear_case
    raw = (d / "unpacked" / "preprocess.json").read_text()
    pre = json.loads(raw)
    assert pre["model"] == "linear" and pre["task"] == kind, (pre["model"], pre["task"])
    big = next(f for f in pre["features"] if f["name"] == "x_big")
    xs = [float(r["x_big"]) for r in csv.DictReader(io.StringIO(text))]
    exact = float(Fraction(sum(Fraction(x) for x in xs), len(xs)))
    assert big["mean"] == exact, (big["mean"], exact, "%.15g" % exact)
    # The text itself, not only the value Python's parser rounds to.
    obj = re.search(r'\{[^{}]*"x_big"[^{}]*\}', raw)
    m = obj and re.search(r'"mean":\s*([-0-9.eE+]+)', obj.group(0))
    assert m and float(m.group(1)) == exact, (obj and obj.group(0), "%.17g" % exact)


def test_linear_skewed_input_goes_through_log1p(api, linear_case):
    kind, model, rows, text, target, archive, d = linear_case
    pre = json.loads((d / "unpacked" / "preprocess.json").read_text())
    by_name = {f["name"]: f for f in pre["features"]}
    assert by_name["amount"].get("transform") == "log1p", by_name["amount"]
    assert all("transform" not in by_name[n] for n in ("x_big", "x2")), by_name
    assert pre["version"] == 2, pre["version"]
    # an amount below 0 is read as 0 (the last rows: -3, 0, missing)
    r = api.post("/api/v1/models/%s/predict" % model, json={"data": rows[-3:]})
    assert r.status_code == 200, r.text[:300]
    p = r.json()["predictions"]
    assert p[0] == p[1], p


def test_scorers_refuse_a_transform_they_cannot_apply(stack, linear_case):
    """Either scorer refuses, rather than ignores, a transform other than
    log1p on a linear model's number: ignoring it would score wrong."""
    kind, model, rows, text, target, archive, d = linear_case
    good = json.loads((d / "unpacked" / "preprocess.json").read_text())
    exe = os.path.join(stack.build, "trainyard-score")
    for bad in ("sqrt", "tree"):
        pre = json.loads(json.dumps(good))
        if bad == "tree":  # a tree model's input cannot carry one
            pre["model"] = "tree"
        amount = next(f for f in pre["features"] if f["name"] == "amount")
        amount["transform"] = "sqrt" if bad == "sqrt" else "log1p"
        bad_dir = d / ("refused-" + bad)
        bad_dir.mkdir(exist_ok=True)
        for name in ("model.ubj", "trainyard_scorer.py"):
            (bad_dir / name).write_bytes((d / "unpacked" / name).read_bytes())
        (bad_dir / "preprocess.json").write_text(json.dumps(pre))
        p = subprocess.run(["/usr/bin/python3", "-c",
                            "import sys; sys.path.insert(0, sys.argv[1]); "
                            "import trainyard_scorer; trainyard_scorer.load(sys.argv[1])",
                            str(bad_dir)], capture_output=True, text=True, timeout=120)
        assert p.returncode != 0 and "transform" in p.stderr, (bad, p.stderr[-500:])
        src = bad_dir / "rows.csv"
        src.write_text("amount\n1\n")
        p = subprocess.run([exe, str(bad_dir), str(src)], capture_output=True, text=True,
                           timeout=120)
        assert p.returncode != 0 and "transform" in p.stderr, (bad, p.stderr[-500:])


def test_linear_scorers_match_the_api_bit_for_bit(api, stack, linear_case):
    kind, model, rows, text, target, archive, d = linear_case
    r = api.post("/api/v1/models/%s/predict" % model, json={"data": rows})
    assert r.status_code == 200, r.text[:300]
    expected = r.json()["predictions"]
    code = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import trainyard_scorer
print(json.dumps(trainyard_scorer.load(sys.argv[1]).predict(json.load(sys.stdin))))
"""
    p = subprocess.run(["/usr/bin/python3", "-c", code, str(d / "unpacked")],
                       input=json.dumps(rows), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert same(g, e), ("python", kind, i, g, e)
    src = d / "rows.csv"
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    src.write_text(out.getvalue())
    exe = os.path.join(stack.build, "trainyard-score")
    p = subprocess.run([exe, str(archive), str(src)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    got = list(csv.DictReader(io.StringIO(p.stdout)))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.pop("error") == ""
        assert same({k: (float(v) if isinstance(e[k], float) else v) for k, v in g.items()},
                    e), ("c", g, e)
