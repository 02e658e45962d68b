#!/usr/bin/python3
"""make_seeds.py — writes the small seed corpora under tests/fuzz/corpus/.

The seeds are committed; this script only documents where they came from
and recreates them (run from the repository root). Each target gets a few
valid inputs and the tricky cases its parser must survive: DTDs and
entities for XML, CRLF games for multipart, quotes, newlines and a BOM for
CSV, and tiny tar/tar.gz bundles, good and hostile, for bundles.
"""
import io
import os
import tarfile

ROOT = "tests/fuzz/corpus"


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- rowjson (the plan: a number, b boolean, c category x | "y z" | NA; k dropped)
for name, text in {
    "plain": '{"data":[{"a":1,"b":true,"c":"x"},{"c":"y z","b":null,"a":-2.5e-3,"k":"id"}]}',
    "flags": '{"strict":false,"data":[{"a":0.1,"b":false,"c":null}],"explain":true}',
    "empty": '{"data":[]}',
    "text": '{"data":[{"a":" 29.85","b":"no","c":"x"},{"a":"","b":"NA","c":"y z"},'
            '{"a":"1e5","b":"1","c":null}]}',
    "numbers": '{"data":[{"a":123456789012345678,"b":true,"c":"x"},'
               '{"a":1.7976931348623157e308,"b":true,"c":"x"},{"a":-0.0,"b":true,"c":"x"},'
               '{"a":4.9e-324,"b":true,"c":"x"},{"a":0.30000000000000004,"b":true,"c":"x"}]}',
    "not_plain_missing": '{"data":[{"a":1,"b":true}]}',
    "not_plain_level": '{"data":[{"a":1,"b":true,"c":"NA"},{"a":1,"b":true,"c":" x"}]}',
    "not_plain_escape": '{"data":[{"a":1,"b":true,"c":"\\u0078"}]}',
    "not_plain_types": '{"data":[{"a":"1","b":1,"c":2},{"a":-0,"b":true,"c":"x"},{"a":01}]}',
    "not_plain_shape": '{"data":[{"a":1,"b":true,"c":"x"}],"data":[],"x":1}',
    # found by the fuzzer against yajl (tried first): form feed as white space,
    "formfeed": '{"data":[' + '\x0c' * 21 + ']}',
    # an unfinished token after the value as the end of the body
    "trailing_quote": '{"data":[]}"',
    # and an overlong UTF-8 form, which its check let through
    "overlong_utf8": b'{"data":[{"a":1,"b":true,"c":"x"},{"c":"y z","b":null,"a":-6,'
                     b'"k":":::\xc0\xbd:::::"}]}',
}.items():
    put("fuzz_rowjson", name, text)

# --- json -------------------------------------------------------------------
for name, text in {
    "object": '{"name":"churn","duration":60,"predict_fields":["label"]}',
    "nested": '{"a":{"b":{"c":[1,2,{"d":null}]}},"e":[true,false,1.5e3,-0]}',
    "unicode": '{"k\\u00e9":"\\ud83d\\ude00","s":"tab\\tnl\\n"}',
    "array_top": '[1,2,3]',
    "deep": '{"a":' * 20 + '1' + '}' * 20,
    "dup_keys": '{"a":1,"a":2}',
    "trailing": '{"a":1} x',
    "bad_escape": '{"a":"\\x"}',
    "big_number": '{"n":123456789012345678901234567890,"f":1e400}',
    "nul_inside": '{"a":"b\u0000c"}',
}.items():
    put("fuzz_json", name, text)

# --- xml --------------------------------------------------------------------
xml = {
    "item": '<item><name>churn</name><duration>60</duration></item>',
    "array": '<item><predict_fields><item>a</item><item>b</item></predict_fields>'
             '<x>1</x><x>2</x></item>',
    "decl_attrs": '<?xml version="1.0" encoding="UTF-8"?>\n<r a="1"><k>v &amp; w</k></r>',
    "cdata_comment": '<r><!-- c --><k><![CDATA[<not>&a;]]></k><?pi x?></r>',
    "internal_entity": '<!DOCTYPE r [<!ENTITY m "EXPANDED">]><r><k>&m;</k></r>',
    "external_entity": '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM '
                       '"file:///etc/passwd">]><r>&x;</r>',
    "billion_laughs": '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">'
                      '<!ENTITY c "&b;&b;&b;&b;&b;">]><r>&c;&c;&c;</r>',
    "parameter_entity": '<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1/x.dtd"> %p;]><r/>',
    "undefined_ref": '<r><k>&nope;</k></r>',
    "charrefs": '<r><k>&#88;&#x41;&lt;</k></r>',
    "namespaces": '<a:r xmlns:a="urn:x"><a:k>1</a:k></a:r>',
    "deep": '<a>' * 30 + 'x' + '</a>' * 30,
    "unclosed": '<r><k>1</k>',
}
for name, text in xml.items():
    put("fuzz_xml", name, text)

# --- form -------------------------------------------------------------------
for name, text in {
    "simple": "name=churn&duration=60",
    "arrays": "predict_fields[]=a&predict_fields[]=b&x=1&x=2",
    "escapes": "k%C3%A9=v+w%20x&empty=&novalue",
    "bad_escape": "a=%zz&b=%4",
    "encoded_nul": "a=%00b",
    "json_body": ' {"name":"churn","predict_fields":["a"]}',
    "separators": "&&a=1&=2&b==3;c=4",
}.items():
    put("fuzz_form", name, text)

# --- multipart (boundary ----trainyardXyZ, fixed in the target) --------------
B = "----trainyardXyZ"
two_parts = (f"--{B}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nchurn\r\n"
             f"--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.csv\"\r\n"
             f"Content-Type: text/csv\r\n\r\na,b\r\n1,2\r\n\r\n--{B}--\r\n")
put("fuzz_multipart", "two_parts", "\x01\x00" + two_parts)
put("fuzz_multipart", "preamble_epilogue",
    f"preamble\r\n--{B}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--{B}--\r\nepilogue")
put("fuzz_multipart", "boundary_lookalikes",
    f"--{B}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
    f"x\r\n--{B[:-1]}\r\n--{B}X\r\n\r--{B}\n--{B}\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n"
    f"y\r\n--{B}--")
put("fuzz_multipart", "lf_only",
    f"--{B}\nContent-Disposition: form-data; name=\"a\"\n\n1\n--{B}--\n")
put("fuzz_multipart", "quoted_names",
    f"--{B}\r\nContent-Disposition: form-data; name=\"a\\\"b\"; filename*=UTF-8''%C3%A9.csv\r\n"
    f"content-type: text/plain; charset=utf-8\r\n\r\n\r\n--{B}--\r\n")
put("fuzz_multipart", "no_close", f"--{B}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n")
put("fuzz_multipart", "empty_body_close", f"--{B}--\r\n")
put("fuzz_multipart", "huge_header",
    f"--{B}\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: {'p' * 2000}\r\n\r\n1\r\n--{B}--\r\n")

# --- csv (first two bytes are also the chunk seed; any CSV text works) -------
for name, text in {
    "simple": "a,b,label\n1,2,yes\n3,4,no\n",
    "quotes_newlines": 'id,text\r\n1,"a, ""quoted""\r\nline"\r\n2,plain\r\n',
    "bom": "\ufeffx,y\n1,NA\n2,\n",
    "no_final_newline": "x,y\n1,2",
    "ragged": "x,y\n1,2,3\n",
    "quote_in_field": 'x,y\n1,a"b\n',
    "text_after_quote": 'x,y\n"a"b,1\n',
    "unterminated": 'x,y\n"abc,1\n',
    "dup_header": "x,x\n1,2\n",
    "empty_header": "x,,y\n1,2,3\n",
    "header_only": "x,y\n",
    "blank_lines": "x,y\n\n1,2\n\n\n3,4\n",
    "missing_values": "x,y,z\nNaN,null,None\n1,N/A,true\n2,na,false\n",
    "bad_utf8": b"x,y\n\xff\xfe,1\n",
}.items():
    put("fuzz_csv", name, text)

# --- bundle ------------------------------------------------------------------
SPEC = b'{"dataset":"data/train.csv","predict_fields":["label"]}'
CSV = b"a,b,label\n1,2,0\n3,4,1\n"


def tar_bytes(members, mode="w:gz"):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.PAX_FORMAT) as tf:
        for name, kind, data in members:
            ti = tarfile.TarInfo(name)
            ti.mtime = 0
            if kind == "f":
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            elif kind == "d":
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            elif kind == "s":
                ti.type = tarfile.SYMTYPE
                ti.linkname = data
                tf.addfile(ti)
            elif kind == "h":
                ti.type = tarfile.LNKTYPE
                ti.linkname = data
                tf.addfile(ti)
    return buf.getvalue()


# The chunk seed is the first two bytes of the archive (gzip's magic here).
good = [("trainyard.json", "f", SPEC), ("data", "d", b""), ("data/train.csv", "f", CSV)]
put("fuzz_bundle", "good.tar.gz", tar_bytes(good))
put("fuzz_bundle", "good.tar", tar_bytes(good, "w"))
put("fuzz_bundle", "good.tar.xz", tar_bytes(good, "w:xz"))
put("fuzz_bundle", "traversal.tar.gz", tar_bytes(good + [("../x", "f", b"evil")]))
put("fuzz_bundle", "symlink.tar", tar_bytes(
    [("trainyard.json", "f", SPEC), ("data/train.csv", "s", "/etc/passwd")], "w"))
put("fuzz_bundle", "hardlink.tar", tar_bytes(
    [("trainyard.json", "f", SPEC), ("data/train.csv", "h", "trainyard.json")], "w"))
put("fuzz_bundle", "dup_spec.tar", tar_bytes(good + [("./trainyard.json", "f", b"{}")], "w"))
put("fuzz_bundle", "bad_spec.tar", tar_bytes(
    [("trainyard.json", "f", b'{"dataset":7}'), ("data/train.csv", "f", CSV)], "w"))

# --- router: first byte picks the method (0 GET, 1 POST, 2 PUT, 3 DELETE, 4 HEAD)
for name, (m, path) in {
    "health": (0, "/health"),
    "status": (0, "/api/v1/models/train/5f0c/status"),
    "count": (0, "/trainings/count"),
    "id_put": (2, "/trainings/17"),
    "encoded_slash": (3, "/trainings/a%2Fb"),
    "trailing_slash": (0, "/train/ws/123/"),
    "dots": (0, "/train/%2E%2E/123"),
    "method_405": (1, "/trainings/count"),
    "head": (4, "/health"),
    "bad_escape": (0, "/trainings/%zz"),
    "encoded_nul": (0, "/trainings/%00"),
    "double_slash": (0, "//health"),
    "many_params": (0, "/a/b/c/d/e/f/g/h/i"),
    "plus": (1, "/train/a+b%20c"),
}.items():
    put("fuzz_router", name, bytes([m]) + path.encode())

# --- validate: first byte 0 strict, 1 coercing; then JSON --------------------
for name, (c, text) in {
    "valid": (0, '{"name":"x","duration":60,"predict_fields":["a"],"rate":0.5,"force":true}'),
    "coerced": (1, '{"name":"x","duration":"300","predict_fields":"a","rate":"0.1",'
                   '"force":"true","rounds":"7"}'),
    "literal_error": (0, '{"name":"x","duration":7,"predict_fields":["a"]}'),
    "float_int": (0, '{"name":"x","duration":60.0,"predict_fields":["a"]}'),
    "wrong_types": (0, '{"name":1,"duration":"a","predict_fields":[1],"params":[],"rows":{}}'),
    "nulls": (1, '{"name":null,"rounds":null,"kind":null,"extra":null,"predict_fields":[]}'),
    "not_object": (0, '[1,2]'),
    "range": (1, '{"name":"x","rounds":"1001","rate":"-1","predict_fields":["a"],"kind":"other"}'),
    "long": (0, '{"name":"' + "\u00e9" * 70 + '","predict_fields":["a","b","c","d","e","f","g","h","i"]}'),
}.items():
    put("fuzz_validate", name, bytes([c]) + text.encode())


# --- bodyscan (first byte: 0 JSON, 1 form, 2 XML; second: chunking seed) ----
for name, fmt, text in [
    ("json_key", 0, '{"id":"m","api_key":"ty_a_b","data":[{"x":1,"y":"a,b"}]}'),
    ("json_nested_key", 0, '{"data":[{"api_key":"no"}],"api_key":"a\\/b"}'),
    ("json_dup_key", 0, '{"api_key":"a","api_key":"b"}'),
    ("json_deep", 0, "[" * 40 + "]" * 40),
    ("form_key", 1, "id=m&api%5Fkey=ty_a%5Fb&data=%5B%5D&x"),
    ("form_json", 1, ' {"api_key":"j"}'),
    ("xml_items", 2, '<?xml version="1.0"?><item><a>1</a><b/><!-- c --></item>'),
]:
    put("fuzz_bodyscan", name, bytes([fmt, 7]) + text.encode())


# --- treeshap (an XGBoost model's JSON form; 6 inputs, 2 output groups) -----
# Real models from python3-xgboost when it is installed (numbers, a
# category, missing values, a feature split on twice), and hand-made hostile
# trees: a child numbered before its parent, a shared child, bad indices.
def tree(left, right, feat, cond, hess, **extra):
    n = len(left)
    t = {"left_children": left, "right_children": right, "split_indices": feat,
         "split_conditions": cond, "default_left": [1] * n, "split_type": [0] * n,
         "sum_hessian": hess, "categories": [], "categories_nodes": [],
         "categories_segments": [], "categories_sizes": []}
    t.update(extra)
    return t


def model(trees, info):
    import json
    return json.dumps({"learner": {"gradient_booster": {"name": "gbtree", "model": {
        "trees": trees, "tree_info": info}}}})


stump = tree([1, -1, -1], [2, -1, -1], [0, 0, 0], [0.5, -1.0, 2.0], [10, 4, 6])
put("fuzz_treeshap", "stump", model([stump], [0]))
put("fuzz_treeshap", "repeat", model([tree(
    [1, 3, -1, -1, -1], [2, 4, -1, -1, -1], [2, 2, 0, 0, 0], [1.0, 0.0, 0.3, -0.2, 0.1],
    [8, 5, 3, 2, 3])], [1]))
put("fuzz_treeshap", "category", model([tree(
    [1, -1, -1], [2, -1, -1], [1, 0, 0], [0, 1.0, -1.0], [10, 5, 5], split_type=[1, 0, 0],
    categories=[0, 2, 33], categories_nodes=[0], categories_segments=[0],
    categories_sizes=[3])], [0]))
put("fuzz_treeshap", "backward_child", model([tree(
    [2, -1, 1], [2, -1, 1], [0, 0, 0], [0, 0, 0], [1, 1, 1])], [0]))
put("fuzz_treeshap", "shared_child", model([tree(
    [1, 3, -1, -1], [2, 3, -1, -1], [0, 1, 0, 0], [0, 0, 0, 0], [4, 2, 2, 2])], [0]))
put("fuzz_treeshap", "bad_feature", model([tree(
    [1, -1, -1], [2, -1, -1], [9, 0, 0], [0, 0, 0], [2, 1, 1])], [0]))
put("fuzz_treeshap", "zero_cover", model([stump, tree(
    [1, -1, -1], [2, -1, -1], [0, 0, 0], [0, 1, 1], [2, 0, 2])], [0, 1]))
put("fuzz_treeshap", "linear", '{"learner":{"gradient_booster":{"name":"gblinear"}}}')
try:
    import numpy as np
    import xgboost as xgb
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    X[:, 1] = rng.integers(0, 5, 200)
    X[::7, 0] = np.nan
    y = ((X[:, 1] % 2 == 0) ^ (X[:, 2] > 0)).astype(int)
    d = xgb.DMatrix(X, y, feature_types=["q", "c", "q", "q", "q", "q"], enable_categorical=True)
    for name, params in [("xgb_binary", {"objective": "binary:logistic", "max_depth": 3}),
                         ("xgb_multi", {"objective": "multi:softprob", "num_class": 2,
                                        "max_depth": 2})]:
        params.update({"tree_method": "hist", "max_cat_to_onehot": 4, "nthread": 1})
        put("fuzz_treeshap", name, bytes(xgb.train(params, d, 4).save_raw("json")))
except ImportError:
    pass
# --- rowcsv (records split at 0x1e, cells at 0x1f; the first is the header) --
def records(*rows):
    return "\x1e".join("\x1f".join(r) for r in rows)


put("fuzz_rowcsv", "plain", records(["id", "a", "b", "c", "k"], ["1", "2.5", "yes", "x", "q"],
                                    ["2", "", "NA", "y z", ""], ["3", "-1e3", "false", "NA", "z"]))
put("fuzz_rowcsv", "not_plain", records(["c", "b", "a"], ["X ", "no", "1"], ["w", "true", "abc"],
                                        ["x", "maybe", " 7 "], ["y z", "1", "0x10"], ["x", "0"]))
put("fuzz_rowcsv", "header", records(["a", "b", "c", "a"], ["1", "yes", "x", "2"]))
put("fuzz_rowcsv", "nul", records(["a", "b", "c"], ["1\x002", "yes", "x"], ["1", "yes", "x\x00"]))
# --- numfmt (floats as little-endian bits, 4 bytes each) ---------------------
import struct


def floats(*vals):
    return b"".join(struct.pack("<f", v) for v in vals)


put("fuzz_numfmt", "round", floats(0.0, -0.0, 1.0, 0.1, 0.5, 3.0, 10.0, 1e7, 1e-5, 1e-4))
put("fuzz_numfmt", "carry", floats(9.9999996, 0.99999994, 999999.94, 123456789.0, 1e10))
put("fuzz_numfmt", "probabilities", floats(0.941176474, 0.0588235296, 1.5e-07, 0.333333343,
                                          0.666666687, 2.3e-5, 0.999999))
put("fuzz_numfmt", "edges", floats(1e-38, 1.17549435e-38, 3.4028235e38, 1.4e-45, float("inf"),
                                   float("-inf"), float("nan"), 2.0 ** -17, 2.0 ** 24))
# --- cli (first byte even: CSV cells split at NUL; odd: a config file) -------
for name, first, text in [
    ("cells_plain", 0, "a\0b\0c"),
    ("cells_quoting", 0, 'say "hi"\0a,b\0two\nlines\0 pad \0\0cr\r'),
    ("cells_utf8", 0, "Zürich\0\xe2\x82\xac"),
    ("cells_bad_utf8", 0, b"ok\0\xff\xfe".decode("latin-1")),
    ("config", 1, "# written by trainyard login\nurl=http://127.0.0.1:8080\nkey=ty_a_b\nworkspace=dev\n"),
    ("config_crlf_dup", 1, "key=one\r\nkey=two=three\r\nbogus\n=x\nkey"),
]:
    put("fuzz_cli", name, bytes([first]) + text.encode("latin-1" if name == "cells_bad_utf8" else "utf-8"))
