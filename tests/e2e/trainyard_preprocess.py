#!/usr/bin/python3
"""trainyard_preprocess.py — rebuild a trainyard model's input in Python.

A trainyard model is model.ubj (an XGBoost booster) plus preprocess.json
(written by ml/encode.c and ml/train.c); an ensemble's model.ubj is the
weighted blend of its tree members as one booster, a linear member's
weighted margin (its coefficients in preprocess.json) adds to it
(predict()), and its members also come as member-<i>.ubj with the recipe in
preprocess.json (predict_members()). This module turns raw rows (dicts of
field -> value, as sent to the predict API or read from a CSV) into the
float32 matrix the booster reads, with the same rules as the C engine:

  * a cell is missing when empty or NA, N/A, NaN, null, None (any case,
    spaces around ignored) or absent; missing -> NaN
  * number:   a finite decimal number, read as float32
  * boolean:  true/yes -> 1, false/no -> 0 (any case), or the numbers 0 / 1
  * category: index of the level in "levels"; an unknown level goes to the
    "other" index len(levels) when "other" is true, else NaN
  * "target_transform": "log1p" (regression): the booster predicts
    log1p(target); the prediction is expm1 of its output
  * model "tree": one column per feature; categories are XGBoost
    categorical features (feature_type "c")
  * model "linear": numbers/booleans standardised ((x - mean) / scale; a
    number with "transform": "log1p" is log1p(max(x, 0)) first; a missing
    number is its "impute" value, the training median, read the same way; a
    missing boolean, or a number without "impute", -> 0),
    categories one-hot over levels (+ other), missing -> all zeros

Pure Python + numpy; xgboost is imported only by dmatrix()/predict().

    /usr/bin/python3 trainyard_preprocess.py model.ubj preprocess.json rows.csv

prints one line of predictions per CSV row (class probabilities separated by
commas, or the regression value), in the format bench/ml_bench writes to
predictions.csv, so the two can be compared.
"""
import csv
import json
import math
import re
import sys

import numpy as np

_MISSING = {"", "na", "n/a", "nan", "null", "none"}
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class ValueError422(ValueError):
    """A value that does not fit its feature (the API answers 422)."""


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


def field_value(feature, v):
    """One raw value -> the field value (float, NaN = missing)."""
    if _is_missing(v):
        return math.nan
    kind = feature["kind"]
    if kind == "number":
        if isinstance(v, bool):
            raise ValueError422("%s: a number is required" % feature["name"])
        if isinstance(v, (int, float)):
            return float(v)
        x = _number(str(v))
        if x is None:
            raise ValueError422("%s: a number is required" % feature["name"])
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
        raise ValueError422("%s: a boolean is required" % feature["name"])
    # category
    if isinstance(v, bool):
        text = "true" if v else "false"
    elif isinstance(v, (dict, list)):
        raise ValueError422("%s: a single value is required" % feature["name"])
    else:
        text = _trim(str(v))
    levels = feature.get("levels", [])
    index = feature.setdefault("_index", {l: i for i, l in enumerate(levels)})
    if text in index:
        return float(index[text])
    return float(len(levels)) if feature.get("other") else math.nan


def field_rows(rows, pre):
    """rows (list of dicts) -> n x features float matrix of field values."""
    feats = pre["features"]
    out = np.full((len(rows), len(feats)), np.nan, dtype=np.float64)
    for i, row in enumerate(rows):
        for j, f in enumerate(feats):
            out[i, j] = field_value(f, row.get(f["name"]))
    return out


def feature_info(pre):
    """Booster input names and XGBoost feature types."""
    names, types = [], []
    linear = pre.get("model") == "linear"
    for f in pre["features"]:
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


def _linear_value(f, v):
    """log1p(max(x, 0)) of a float64 array under "transform": "log1p"."""
    if f.get("transform") != "log1p":
        return v
    return np.array([x if math.isnan(x) else math.log1p(max(x, 0.0)) for x in v])


def to_matrix(rows, pre):
    """rows -> the float32 matrix the booster reads."""
    F = field_rows(rows, pre)
    if pre.get("model") != "linear":
        return F.astype(np.float32)
    cols = []
    for j, f in enumerate(pre["features"]):
        x = F[:, j]
        if f["kind"] != "category":
            mean, scale = f.get("mean", 0.0), f.get("scale", 1.0)
            v = _linear_value(f, x.astype(np.float32).astype(np.float64))
            z = (v - mean) / scale
            fill = 0.0
            if "impute" in f:
                fill = (_linear_value(f, np.array([f["impute"]]))[0] - mean) / scale
            cols.append(np.where(np.isnan(x), fill, z))
            continue
        k = len(f["levels"]) + (1 if f.get("other") else 0)
        for c in range(k):
            cols.append(np.where(x == c, 1.0, 0.0))
    if not cols:
        return np.zeros((len(rows), 0), dtype=np.float32)
    return np.stack(cols, axis=1).astype(np.float32)


def dmatrix(rows, pre):
    import xgboost  # noqa: imported here so the encoder itself needs numpy only

    names, types = feature_info(pre)
    return xgboost.DMatrix(to_matrix(rows, pre), missing=np.nan, feature_names=names,
                           feature_types=types, enable_categorical=True)


def linear_member(pre):
    """An ensemble's linear member (served beside model.ubj), or None."""
    for m in pre.get("ensemble", {}).get("members", []):
        if m.get("model") == "linear":
            return m
    return None


def linear_margin(rows, member):
    """weight x the linear member's margin (n x groups) from its recipe:
    its inputs encoded as a linear model's, times its coefficients."""
    lin = member["linear"]
    X = to_matrix(rows, {"model": "linear", "features": lin["inputs"]}).astype(np.float64)
    coef = np.array(lin["coefficients"], dtype=np.float64)
    return member["weight"] * (X @ coef[:-1] + coef[-1])


def link(margin, pre):
    """Margins (n x groups) -> the API's outputs."""
    if pre["task"] == "binary":
        p = 1.0 / (1.0 + np.exp(-margin.reshape(-1)))
        return np.stack([1.0 - p, p], axis=1)
    if pre["task"] == "multiclass":
        z = np.exp(margin - margin.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)
    margin = margin.reshape(-1)
    return np.expm1(margin) if pre.get("target_transform") == "log1p" else margin


def predict(model_path, pre, rows):
    """Class probabilities (n x k) or values (n) as the API computes them."""
    import xgboost

    booster = xgboost.Booster(model_file=model_path)
    lm = linear_member(pre)
    if lm is not None:  # model.ubj holds the trees; the linear margin adds to theirs
        margin = booster.predict(dmatrix(rows, pre), output_margin=True)
        return link(margin.reshape(len(rows), -1) + linear_margin(rows, lm), pre)
    p = booster.predict(dmatrix(rows, pre))
    if pre["task"] == "binary":
        p = np.stack([1.0 - p, p], axis=1)
    if pre.get("target_transform") == "log1p":
        p = np.expm1(p.astype(np.float64)).astype(np.float32)
    return p


def predict_members(member_paths, pre, rows):
    """The same as predict(), rebuilt from an ensemble's member files by
    preprocess.json's recipe ("ensemble": margin = sum of weight x member
    margin, then the objective's link)."""
    import xgboost

    members = pre["ensemble"]["members"]
    margin = 0
    for path, m in zip(member_paths, members):
        booster = xgboost.Booster(model_file=path)
        # a tree member reads the field rows; the linear one (gblinear) its
        # own expanded input
        mp = {"model": "linear", "features": m["linear"]["inputs"]} if m["model"] == "linear" \
            else pre
        part = booster.predict(dmatrix(rows, mp), output_margin=True)
        margin = margin + m["weight"] * part.reshape(len(rows), -1)
    return link(margin, pre)


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[2]) as f:
        pre = json.load(f)
    with open(argv[3], newline="") as f:
        rows = list(csv.DictReader(f))
    p = predict(argv[1], pre, rows)
    for r in p:
        if np.ndim(r) == 0:
            print("%.9g" % r)
        else:
            print(",".join("%.9g" % x for x in r))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
