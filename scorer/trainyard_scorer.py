#!/usr/bin/python3
"""trainyard_scorer.py — score a downloaded trainyard model, exactly as the API does.

A download (GET /api/v1/models/{id}/download) is a tar.gz holding:

  model.ubj         the XGBoost booster (UBJSON), loadable by any XGBoost >= 1.7
  preprocess.json   how raw field values become the booster's input (schema in
                    README.md beside this file, "preprocess.json, versions 1 and 2")
  metrics.json      the model's validation metrics
  trainyard_scorer.py, README.md   this module and its documentation

Use with Debian's python3-xgboost (apt install python3-xgboost) or pip's xgboost:

    import trainyard_scorer
    model = trainyard_scorer.load("model-<id>.tar.gz")      # or the unpacked folder
    model.predict([{"tenure": 3, "contract": "Month-to-month"}])
    # -> [{"churn": "Yes", "Probability churn is No": 0.31, "Probability churn is Yes": 0.69}]

or from a shell, CSV in (',' ';' tab or '|', sniffed from the header as the
API does), CSV out with the API's columns:

    /usr/bin/python3 trainyard_scorer.py model-<id>.tar.gz rows.csv > predictions.csv

The answers are the API's bit for bit: the same encoding (below), the same
float32 input matrix, the same booster. Do NOT give the booster a pandas frame
with astype('category'): pandas numbers a category's levels by sorting the
levels present in *your* frame, while the model was trained with the codes of
preprocess.json ("levels" order, unseen levels -> "other"); the predictions
come out plausible and wrong.

Encoding rules (the C engine's, ml/encode.c):
  * a cell is missing when absent, None, empty or NA, N/A, NaN, null, None
    (any case, spaces around ignored) -> NaN
  * number:   a finite decimal number (JSON number or numeric text), read as float32
  * boolean:  true/yes -> 1, false/no -> 0 (any case), or the numbers 0 / 1
  * category: the index of its text in "levels"; a level not in the list goes to
    the "other" index len(levels) when "other" is true, else NaN
  * model "tree": one input per feature; categories are XGBoost categorical
    features (feature_type "c")
  * model "linear": numbers/booleans standardised ((x - mean) / scale, in double
    from the float32 value, then rounded to float32); a missing number is its
    "impute" value (the training median) standardised the same way from that
    double, a missing boolean (or a number without "impute") -> 0; categories
    one-hot over levels (+ other), missing -> all zeros
  * an ensemble with a linear member ("ensemble" -> "members" -> one with
    "linear"): model.ubj holds the tree members; the linear member's margin
    (its "inputs" encoded as model "linear", times its "coefficients", the
    bias last, summed in double) times its "weight" adds to model.ubj's
    margin, then the link (sigmoid, softmax, identity) in double
"""
import csv
import io
import json
import math
import os
import re
import sys
import tarfile
import tempfile

import numpy as np

__all__ = ["load", "Model", "ValueRefused", "PREPROCESS_VERSIONS"]

#: preprocess.json versions this scorer understands.
PREPROCESS_VERSIONS = (1, 2)

_MISSING = {"", "na", "n/a", "nan", "null", "none"}
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class ValueRefused(ValueError):
    """A value that does not fit its field (the API answers 422 for it)."""


def _trim(s):
    return s.strip(" \t")


def _is_missing(v):
    return v is None or (isinstance(v, str) and _trim(v).lower() in _MISSING)


def _number(text):
    text = _trim(text)
    if not _NUMBER.match(text):
        return None
    x = float(text)
    if not math.isfinite(x) or abs(x) > 3.0e38:
        return None
    return x


def _field_value(feature, index, v):
    """One raw value -> the field's value (float, NaN = missing)."""
    if _is_missing(v):
        return math.nan
    kind = feature["kind"]
    name = feature["name"]
    if kind == "number":
        if isinstance(v, bool):
            raise ValueRefused("%s: a number is required" % name)
        if isinstance(v, (int, float)):
            if not math.isfinite(v):
                raise ValueRefused("%s: a finite number is required" % name)
            return float(v)
        x = _number(str(v))
        if x is None:
            raise ValueRefused("%s: a number is required, not %r" % (name, v))
        return x
    if kind == "boolean":
        if isinstance(v, bool):
            return 1.0 if v else 0.0
        t = _trim(str(v)).lower()
        if t in ("true", "yes"):
            return 1.0
        if t in ("false", "no"):
            return 0.0
        x = _number(t)
        if x in (0.0, 1.0):
            return x
        raise ValueRefused("%s: a boolean is required, not %r" % (name, v))
    if isinstance(v, bool):
        text = "true" if v else "false"
    elif isinstance(v, (dict, list)):
        raise ValueRefused("%s: a single value is required" % name)
    else:
        text = _trim(str(v))
    if text in index:
        return float(index[text])
    return float(len(feature.get("levels", []))) if feature.get("other") else math.nan


def sniff_delimiter(header_line):
    """The API's rule (ml/csv.h): of , ; tab |, the most frequent outside
    quotes in the header line; ties go to the earlier; none -> ','."""
    counts = {c: 0 for c in ",;\t|"}
    quoted = False
    for ch in header_line.lstrip("\ufeff\r\n"):
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch in "\r\n":
            break
        elif ch in counts:
            counts[ch] += 1
    best = ","
    for c in ",;\t|":
        if counts[c] > counts[best]:
            best = c
    return best


def read_csv_rows(text):
    """CSV text -> list of dicts, the delimiter sniffed as the API does."""
    text = text.lstrip("\ufeff")
    delim = sniff_delimiter(text[: text.find("\n") + 1 if "\n" in text else len(text)])
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delim))


def _check_transforms(features, linear):
    """Refuses a "transform" this scorer cannot apply (the engine's reader
    refuses the same): only log1p, only on a linear model's numbers."""
    for f in features:
        t = f.get("transform")
        if t is not None and (t != "log1p" or not linear or f.get("kind") != "number"):
            raise ValueError("preprocess.json feature %r: transform %r (this scorer knows "
                             "log1p on a linear model's numbers)" % (f.get("name"), t))


def _linear_value(feature, v):
    """What the linear model reads of a number (float64 array, NaN kept):
    log1p(max(x, 0)) under "transform": "log1p" (_check_transforms has
    refused any other), through the C library's log1p as the engine computes
    it (numpy's vectorised log1p may differ by an ulp)."""
    if feature.get("transform") is None:
        return v
    return np.array([x if math.isnan(x) else math.log1p(x if x > 0 else 0.0) for x in v],
                    dtype=np.float64)


def expand_linear(F, features):
    """Field matrix (n x features, float64, NaN missing) -> the linear model's
    float32 input: the engine's order of rounding (ml/encode.c)."""
    cols = []
    for j, f in enumerate(features):
        x = F[:, j]
        if f["kind"] != "category":
            # float32 value, (log1p of it and) standardised in double,
            # rounded to float32
            v = _linear_value(f, x.astype(np.float32).astype(np.float64))
            mean, scale = f.get("mean", 0.0), f.get("scale", 1.0)
            z = ((v - mean) / scale).astype(np.float32)
            fill = np.float32(0)
            if "impute" in f:
                imp = _linear_value(f, np.array([f["impute"]], dtype=np.float64))[0]
                fill = np.float32((imp - mean) / scale)
            cols.append(np.where(np.isnan(x), fill, z))
            continue
        k = len(f["levels"]) + (1 if f.get("other") else 0)
        for c in range(k):
            cols.append(np.where(x == c, 1.0, 0.0))
    if not cols:
        return np.zeros((F.shape[0], 0), dtype=np.float32)
    return np.stack(cols, axis=1).astype(np.float32)


class Model:
    """A loaded trainyard model: booster + preprocess description."""

    def __init__(self, booster_path, preprocess):
        version = preprocess.get("version")
        if version not in PREPROCESS_VERSIONS:
            raise ValueError("preprocess.json version %r: this scorer reads %s"
                             % (version, PREPROCESS_VERSIONS))
        if preprocess.get("target_transform") not in (None, "log1p"):
            raise ValueError("preprocess.json target_transform %r: this scorer knows log1p"
                             % preprocess.get("target_transform"))
        self.pre = preprocess
        self.task = preprocess["task"]
        self.target = preprocess["target"]
        self.classes = [str(c) for c in preprocess.get("classes", [])]
        self.features = preprocess["features"]
        _check_transforms(self.features, preprocess.get("model") == "linear")
        self._index = [{l: i for i, l in enumerate(f.get("levels", []))} for f in self.features]
        self.linear_member = None
        for m in preprocess.get("ensemble", {}).get("members", []):
            if "linear" in m:
                lin = m["linear"]
                if [f["name"] for f in lin["inputs"]] != [f["name"] for f in self.features]:
                    raise ValueError("the ensemble's linear member reads other fields")
                _check_transforms(lin["inputs"], True)
                self.linear_member = (float(m["weight"]), lin["inputs"],
                                      np.array(lin["coefficients"], dtype=np.float64))
        import xgboost  # imported here: encoding alone needs numpy only

        self.booster = xgboost.Booster(model_file=booster_path)

    # --- encoding ---------------------------------------------------------------
    def field_matrix(self, rows):
        """rows -> n x features float64 matrix of field values (NaN = missing)."""
        out = np.full((len(rows), len(self.features)), np.nan, dtype=np.float64)
        for i, row in enumerate(rows):
            for j, f in enumerate(self.features):
                out[i, j] = _field_value(f, self._index[j], row.get(f["name"]))
        return out

    def input_names_types(self):
        names, types = [], []
        linear = self.pre.get("model") == "linear"
        for f in self.features:
            if not linear or f["kind"] != "category":
                names.append(f["name"])
                types.append("c" if (not linear and f["kind"] == "category") else "q")
                continue
            for level in f["levels"]:
                names.append("%s=%s" % (f["name"], level))
                types.append("q")
            if f.get("other"):
                names.append("%s=(other)" % f["name"])
                types.append("q")
        return names, types

    def input_matrix(self, rows):
        """rows -> the float32 matrix the booster reads."""
        F = self.field_matrix(rows)
        if self.pre.get("model") != "linear":
            return F.astype(np.float32)
        return expand_linear(F, self.features)

    def linear_margin(self, rows):
        """An ensemble's linear member: weight x margin (n x groups, float64),
        summed as the API sums it (the bias, then column by column)."""
        weight, inputs, coef = self.linear_member
        X = expand_linear(self.field_matrix(rows), inputs).astype(np.float64)
        acc = np.tile(coef[-1], (len(rows), 1))
        for j in range(X.shape[1]):
            acc = acc + X[:, j:j + 1] * coef[j]
        return weight * acc

    # --- scoring ----------------------------------------------------------------
    def predict_raw(self, rows):
        """Class probabilities (n x k, float32) or values (n, float32)."""
        if self.linear_member is not None:
            return self._predict_with_linear(rows)
        import xgboost

        X = self.input_matrix(rows)
        if self.pre.get("model") == "linear":
            # gblinear has no in-place prediction: a DMatrix, as the API.
            names, types = self.input_names_types()
            d = xgboost.DMatrix(X, missing=np.nan, feature_names=names, feature_types=types)
            p = self.booster.predict(d)
        else:
            # In-place prediction from the dense float32 rows, as the API
            # (XGBoosterPredictFromDense): a DMatrix sums the trees in
            # another order and can differ in the last bit. The booster
            # carries the feature types ("c" for categories) itself.
            p = self.booster.inplace_predict(np.ascontiguousarray(X), missing=np.nan)
        p = np.asarray(p, dtype=np.float32)
        if self.task == "regression" and self.pre.get("target_transform") == "log1p":
            # the booster learnt log1p(target): expm1 in double, rounded
            # once to float32, as the API (numpy's float32 expm1 can differ
            # from the C library's expm1f by an ulp)
            p = np.expm1(p.astype(np.float64)).astype(np.float32)
        if self.task == "binary":
            p = np.stack([np.float32(1.0) - p, p], axis=1)
        return p

    def _predict_with_linear(self, rows):
        """predict_raw of an ensemble with a linear member: model.ubj's margin
        plus the member's, through the link in double (ml/scoring.c)."""
        X = self.input_matrix(rows)
        tm = self.booster.inplace_predict(np.ascontiguousarray(X), missing=np.nan,
                                          predict_type="margin")
        z = np.asarray(tm, dtype=np.float32).astype(np.float64).reshape(len(rows), -1)
        z = z + self.linear_margin(rows)
        if self.task == "binary":
            p = (1.0 / (1.0 + np.exp(-z[:, 0]))).astype(np.float32)
            return np.stack([np.float32(1.0) - p, p], axis=1)
        if self.task == "multiclass":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            s = e[:, 0].copy()
            for c in range(1, e.shape[1]):
                s = s + e[:, c]
            return (e / s[:, None]).astype(np.float32)
        return z[:, 0].astype(np.float32)

    def predict(self, rows):
        """The API's predictions: a list of dicts, Akkio's shape."""
        p = self.predict_raw(rows)
        out = []
        for i in range(len(rows)):
            if self.task == "regression":
                out.append({self.target: float(p[i])})
                continue
            row = p[i]
            best = int(np.argmax(row))  # the first of equal maxima, as the API
            d = {self.target: self.classes[best]}
            for c, name in enumerate(self.classes):
                d["Probability %s is %s" % (self.target, name)] = float(row[c])
            out.append(d)
        return out


def load(path):
    """A model from a downloaded .tar.gz or the folder it was unpacked in."""
    if os.path.isdir(path):
        with open(os.path.join(path, "preprocess.json")) as f:
            pre = json.load(f)
        return Model(os.path.join(path, "model.ubj"), pre)
    with tarfile.open(path, "r:gz") as t:
        files = {os.path.basename(m.name): m for m in t.getmembers() if m.isfile()}
        pre = json.load(t.extractfile(files["preprocess.json"]))
        booster = t.extractfile(files["model.ubj"]).read()
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "model.ubj")
        with open(p, "wb") as f:
            f.write(booster)
        return Model(p, pre)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: trainyard_scorer.py MODEL.tar.gz|DIR ROWS.csv > OUT.csv\n")
        return 2
    model = load(argv[1])
    with open(argv[2], newline="", encoding="utf-8") as f:
        rows = read_csv_rows(f.read())
    preds = model.predict(rows)
    cols = [model.target] + ["Probability %s is %s" % (model.target, c) for c in model.classes]
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(cols)
    for p in preds:
        w.writerow([repr(p[c]) if isinstance(p[c], float) else p[c] for c in cols])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
