"""The Strapi-style /trainings collection (seeds/000): JSON, XML and form
bodies, uuid idempotency, the collection queries, and training specs in meta."""
import json
import time
import uuid as uuidlib
from urllib.parse import urlencode

import pytest

DOC_FIELDS = ("id", "uuid", "accuracy", "precission", "mae", "rmse", "binaryPath", "version",
              "meta", "published_at", "created_by", "updated_by")


def uid(prefix="t"):
    return "%s-%s" % (prefix, uuidlib.uuid4().hex[:12])


def count(sql, workspace="dev"):
    """The documents of one workspace (the dev key's, unless told): other
    tests' writes elsewhere cannot move it."""
    return sql("SELECT count(*) FROM trainings t JOIN workspaces w ON w.id = t.workspace_id "
               "WHERE w.name = :'p1'", workspace)[0][0]


def assert_doc(doc, body):
    for k in DOC_FIELDS:
        assert k in doc, (k, doc)
    for k, v in body.items():
        if isinstance(v, float):
            assert abs(doc[k] - v) < 1e-9, (k, doc[k], v)
        else:
            assert doc[k] == v, (k, doc[k], v)


def test_create_json(api):
    body = {"uuid": uid(), "accuracy": 0.91, "precission": 0.88, "mae": 0.1, "rmse": 0.2,
            "binaryPath": "/models/x.ubj", "version": "1.0.0", "meta": "trained elsewhere"}
    r = api.post("/trainings", json=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert_doc(doc, body)
    assert r.headers["Content-Type"].startswith("application/json")
    got = api.get("/trainings/%s" % doc["id"]).json()
    assert_doc(got, body)


def test_create_xml(api):
    u = uid("xml")
    xml = ('<?xml version="1.0" encoding="utf-8"?>\n<item>\n  <uuid>%s</uuid>\n'
           '  <accuracy>0.75</accuracy>\n  <precission>0.5</precission>\n  <mae>1.5</mae>\n'
           '  <rmse>2.5</rmse>\n  <binaryPath>/b</binaryPath>\n  <version>v2</version>\n'
           '  <meta>from xml</meta>\n</item>\n' % u)
    r = api.post("/trainings", data=xml.encode(), headers={"Content-Type": "application/xml"})
    assert r.status_code == 200, r.text
    assert_doc(r.json(), {"uuid": u, "accuracy": 0.75, "precission": 0.5, "mae": 1.5,
                          "rmse": 2.5, "binaryPath": "/b", "version": "v2", "meta": "from xml"})


def test_create_form(api):
    u = uid("form")
    form = {"uuid": u, "accuracy": "0.25", "mae": "3", "version": "f1", "meta": "from a form"}
    r = api.post("/trainings", data=urlencode(form),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert_doc(r.json(), {"uuid": u, "accuracy": 0.25, "mae": 3, "version": "f1",
                          "meta": "from a form"})


def test_seed_curl_form_header_with_json_body(make_workspace):
    # The seed's own curl example sends JSON labelled as a form: it is read as
    # the JSON it is. (A workspace of its own: the seed's uuid is fixed.)
    ws, _, c = make_workspace("seedcurl")
    r = c.post("/trainings", data='{"uuid":"string","accuracy":0}',
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["uuid"], doc["accuracy"], doc["meta"]) == ("string", 0, None)
    assert c.get("/trainings/count").json() == 1


@pytest.mark.parametrize("body,ctype", [
    (b'{"uuid": "x", "accuracy": ', "application/json"),
    (b"<item><uuid>x</uuid><accuracy>1</item>", "application/xml"),
    (b'<?xml version="1.0"?><!DOCTYPE item [<!ENTITY x "boom">]><item><uuid>&x;</uuid></item>',
     "application/xml"),
    (b'<?xml version="1.0"?><!DOCTYPE item SYSTEM "http://127.0.0.1:1/x.dtd"><item><uuid>a</uuid></item>',
     "application/xml"),
    (b'<?xml version="1.0"?><!DOCTYPE item [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
     b'<item><meta>&xxe;</meta></item>', "application/xml"),
], ids=["json", "xml", "xml-entity", "xml-dtd", "xml-xxe"])
def test_malformed_bodies_nothing_written(api, sql, body, ctype):
    before = count(sql)
    r = api.post("/trainings", data=body, headers={"Content-Type": ctype})
    assert r.status_code == 400, r.text
    doc = r.json()
    assert doc["code"] == 400 and isinstance(doc["message"], str)
    assert "root:" not in r.text
    assert count(sql) == before


@pytest.mark.parametrize("body,field", [
    ({"accuracy": "high"}, "accuracy"),
    ({"mae": [1]}, "mae"),
    ({"uuid": {"a": 1}}, "uuid"),
    ({"version": {"x": 1}}, "version"),
])
def test_wrong_types_nothing_written(api, sql, body, field):
    before = count(sql)
    r = api.post("/trainings", json=dict(body, **({"uuid": uid()} if "uuid" not in body else {})))
    assert r.status_code == 400, r.text
    assert field in r.json()["message"]
    assert count(sql) == before


def test_unsupported_content_type(api, sql):
    before = count(sql)
    r = api.post("/trainings", data=b"uuid: x", headers={"Content-Type": "text/yaml"})
    assert r.status_code == 415, r.text
    assert r.json() == {"code": 415, "message": 'unsupported media type "text/yaml": send '
                        "application/json, application/xml, application/x-www-form-urlencoded "
                        "or multipart/form-data"}
    assert count(sql) == before


def test_uuid_idempotent_and_conflict(api, sql):
    body = {"uuid": uid("idem"), "accuracy": 0.5, "version": "1"}
    a = api.post("/trainings", json=body)
    assert a.status_code == 200, a.text
    n = count(sql)
    b = api.post("/trainings", json=body)
    assert b.status_code == 200, b.text
    assert b.json()["id"] == a.json()["id"]
    assert count(sql) == n
    c = api.post("/trainings", json=dict(body, accuracy=0.6))
    assert c.status_code == 409, c.text
    assert c.json()["code"] == 409
    assert count(sql) == n


def test_put_and_delete(api):
    doc = api.post("/trainings", json={"uuid": uid("put"), "accuracy": 0.1}).json()
    r = api.put("/trainings/%s" % doc["id"], json={"accuracy": 0.2, "version": "2"})
    assert r.status_code == 200, r.text
    assert r.json()["accuracy"] == 0.2 and r.json()["version"] == "2"
    assert r.json()["uuid"] == doc["uuid"]
    r = api.put("/trainings/%s" % doc["id"], data=b"<item><mae>4</mae></item>",
                headers={"Content-Type": "application/xml"})
    assert r.status_code == 200 and r.json()["mae"] == 4
    r = api.delete("/trainings/%s" % doc["id"])
    assert r.status_code == 200
    assert r.json()["id"] == doc["id"]
    assert api.get("/trainings/%s" % doc["id"]).status_code == 404
    r = api.delete("/trainings/%s" % doc["id"])
    assert r.status_code == 404 and r.json()["code"] == 404
    assert api.put("/trainings/%s" % doc["id"], json={"mae": 1}).status_code == 404


def test_put_uuid_collision_is_409(api):
    a = api.post("/trainings", json={"uuid": uid("ca")}).json()
    b = api.post("/trainings", json={"uuid": uid("cb")}).json()
    r = api.put("/trainings/%s" % b["id"], json={"uuid": a["uuid"]})
    assert r.status_code == 409


def test_list_count_sort_limit_start_filters(make_workspace):
    _, _, c = make_workspace("strapi")
    for i in range(7):
        r = c.post("/trainings", json={"uuid": "q-%d" % i, "accuracy": i / 10.0,
                                       "mae": float(10 - i), "version": "v%d" % (i % 2)})
        assert r.status_code == 200, r.text
    docs = c.get("/trainings").json()
    assert isinstance(docs, list) and len(docs) == 7
    assert c.get("/trainings/count").json() == 7

    asc = c.get("/trainings", params={"_sort": "accuracy:ASC"}).json()
    assert [d["uuid"] for d in asc] == ["q-%d" % i for i in range(7)]
    desc = c.get("/trainings", params={"_sort": "accuracy:DESC"}).json()
    assert [d["uuid"] for d in desc] == ["q-%d" % i for i in reversed(range(7))]

    page = c.get("/trainings", params={"_sort": "accuracy:ASC", "_limit": 2, "_start": 3}).json()
    assert [d["uuid"] for d in page] == ["q-3", "q-4"]

    assert len(c.get("/trainings", params={"accuracy_gte": 0.3}).json()) == 4
    assert len(c.get("/trainings", params={"accuracy_gt": 0.3}).json()) == 3
    assert len(c.get("/trainings", params={"accuracy_lt": 0.3}).json()) == 3
    assert len(c.get("/trainings", params={"accuracy_lte": 0.3}).json()) == 4
    assert len(c.get("/trainings", params={"version": "v1"}).json()) == 3
    assert len(c.get("/trainings", params={"version_eq": "v1"}).json()) == 3
    assert len(c.get("/trainings", params={"version_ne": "v1"}).json()) == 4
    assert c.get("/trainings/count", params={"mae_lt": 6}).json() == 2
    both = c.get("/trainings", params={"version": "v0", "accuracy_gte": 0.2}).json()
    assert sorted(d["uuid"] for d in both) == ["q-2", "q-4", "q-6"]


@pytest.mark.parametrize("params", [{"_sort": "nope:ASC"}, {"_sort": "accuracy:SIDEWAYS"},
                                    {"nope_eq": "1"}, {"accuracy_like": "1"},
                                    {"_limit": "many"}])
def test_bad_queries_are_400(api, params):
    r = api.get("/trainings", params=params)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 400


def test_unknown_id_is_404(api):
    for id_ in ("999999999", "abc"):
        r = api.get("/trainings/" + id_)
        assert r.status_code == 404, r.text
        assert r.json() == {"code": 404, "message": "Not Found: no training with id " + id_}


def test_meta_spec_runs_a_training(api, churn):
    spec = {"dataset_id": churn["dataset_id"], "predict_fields": ["churn"], "duration": 10}
    u = uid("spec")
    r = api.post("/trainings", json={"uuid": u, "meta": json.dumps(spec)})
    assert r.status_code == 200, r.text
    doc = r.json()
    deadline = time.time() + 150
    while time.time() < deadline:
        doc = api.get("/trainings/%s" % doc["id"]).json()
        if doc.get("binaryPath"):
            break
        time.sleep(0.5)
    assert doc.get("binaryPath"), doc
    assert doc["version"]
    assert doc["accuracy"] is not None and 0 <= doc["accuracy"] <= 1
    # binaryPath is a URL path to the model, served to this key.
    path = doc["binaryPath"]
    assert path.startswith("/")
    r = api.get(path)
    assert r.status_code == 200
    # The training's model, as a Strapi relation, with its lineage (the same
    # as the model view's); the seed's keys are all still there.
    assert all(k in doc for k in DOC_FIELDS), doc
    assert len(doc["models"]) == 1, doc["models"]
    m = doc["models"][0]
    assert m["predict_field"] == "churn" and m["id"] in path
    lin = api.get("/api/v1/models/%s" % m["id"]).json()["lineage"]
    assert m["lineage"] == lin
    assert lin["job"]["job_id"] == doc["job_id"] and lin["job"]["dialect"] == "strapi"
    assert lin["spec"]["predict_fields"] == ["churn"]
    assert lin["dataset"]["dataset_id"] == churn["dataset_id"]
    assert lin["dataset"]["sha256"] == churn["sha256"]
    # The list shows the same, in one query for the page.
    listed = api.get("/trainings", params={"uuid": u}).json()
    assert [d["models"] for d in listed] == [doc["models"]]
    # A document without a job has no models.
    plain = api.post("/trainings", json={"uuid": uid("plain"), "accuracy": 0.5}).json()
    assert plain["models"] == []
    assert api.get("/trainings/%s" % plain["id"]).json()["models"] == []


def test_meta_spec_with_unknown_dataset_is_400(api, sql):
    before = count(sql)
    spec = {"dataset_id": "00000000-0000-0000-0000-000000000000", "predict_fields": ["y"]}
    r = api.post("/trainings", json={"uuid": uid(), "meta": json.dumps(spec)})
    assert r.status_code == 400, r.text
    assert r.json() == {"code": 400, "message": 'meta.dataset_id: Value error, there is no '
                        'dataset with id "00000000-0000-0000-0000-000000000000" in this '
                        'workspace'}
    assert count(sql) == before
