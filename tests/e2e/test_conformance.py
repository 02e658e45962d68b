"""Conformance with what real Strapi v3 and FastAPI/Akkio clients rely on (issue 11).

/trainings: Strapi v3's list parameters (several sort keys, _in/_nin/_contains/
_ncontains/_containss/_null, _q, _where as JSON or brackets with _or groups,
_publicationState), PostgreSQL's null ordering, and the seed's own curl.
The training API: pydantic v2 lax mode, the status location joined to the host,
Akkio's field types in stats, UNKNOWN_TIMEOUT's own metadata, and "existing".
"""
import json
import uuid

import pytest

TRAIN = "/api/v1/models/train/new"


@pytest.fixture(scope="module")
def strapi(make_workspace):
    """A workspace of its own holding six documents, one with null metrics."""
    _, _, c = make_workspace("conf")
    docs = [
        {"uuid": "alpha-1", "accuracy": 0.9, "rmse": 2.0, "version": "v1", "meta": "Blue fox"},
        {"uuid": "alpha-2", "accuracy": 0.9, "rmse": 1.0, "version": "v2", "meta": "red fox"},
        {"uuid": "beta-1", "accuracy": 0.5, "rmse": 3.0, "version": "v1", "meta": "BLUE whale"},
        {"uuid": "beta-2", "accuracy": 0.2, "rmse": 0.5, "version": "v3", "meta": "grey whale"},
        {"uuid": "gamma_1", "accuracy": None, "rmse": None, "version": "v2", "meta": "100%"},
        {"uuid": "gamma-2", "accuracy": 0.7, "rmse": 4.0, "version": None, "meta": None},
    ]
    for d in docs:
        r = c.post("/trainings", json=d)
        assert r.status_code == 200, r.text
    return c


def uuids(r):
    assert r.status_code == 200, r.text
    return [d["uuid"] for d in r.json()]


def uuid_set(r):
    return set(uuids(r))


def test_sort_several_keys(strapi):
    got = uuids(strapi.get("/trainings", params={"_sort": "accuracy:DESC,rmse:ASC"}))
    # DESC puts the null first (PostgreSQL's default), then 0.9 by rmse ascending.
    assert got == ["gamma_1", "alpha-2", "alpha-1", "gamma-2", "beta-1", "beta-2"]
    got = uuids(strapi.get("/trainings", params={"_sort": "version:ASC, accuracy:DESC"}))
    assert got[:2] == ["alpha-1", "beta-1"] and got[-1] == "gamma-2"


def test_nulls_sort_as_postgresql(strapi):
    asc = uuids(strapi.get("/trainings", params={"_sort": "rmse:ASC"}))
    assert asc[-1] == "gamma_1" and asc[0] == "beta-2"
    desc = uuids(strapi.get("/trainings", params={"_sort": "rmse:DESC"}))
    assert desc[0] == "gamma_1" and desc[-1] == "beta-2"
    assert uuids(strapi.get("/trainings", params={"_sort": "rmse"}))[-1] == "gamma_1"


def test_in_and_nin(strapi):
    assert uuid_set(strapi.get("/trainings", params={"version_in": ["v1", "v3"]})) == \
        {"alpha-1", "beta-1", "beta-2"}
    assert uuid_set(strapi.get("/trainings?version_in[]=v2&version_in[]=v3")) == \
        {"alpha-2", "gamma_1", "beta-2"}
    assert uuid_set(strapi.get("/trainings", params={"accuracy_nin": ["0.9", "0.5"]})) == \
        {"beta-2", "gamma-2"}
    # a repeated plain name is an _in, as Strapi reads it
    assert uuid_set(strapi.get("/trainings", params={"uuid": ["beta-1", "beta-2"]})) == \
        {"beta-1", "beta-2"}
    assert strapi.get("/trainings/count", params={"rmse_in": ["1", "2", "3"]}).json() == 3


def test_contains_family(strapi):
    assert uuid_set(strapi.get("/trainings", params={"meta_contains": "blue"})) == \
        {"alpha-1", "beta-1"}
    assert uuid_set(strapi.get("/trainings", params={"meta_containss": "blue"})) == set()
    assert uuid_set(strapi.get("/trainings", params={"meta_containss": "BLUE"})) == {"beta-1"}
    # NOT ILIKE leaves out nulls, as SQL (and Strapi on PostgreSQL) does
    assert uuid_set(strapi.get("/trainings", params={"meta_ncontains": "fox"})) == \
        {"beta-1", "beta-2", "gamma_1"}
    assert uuid_set(strapi.get("/trainings", params={"meta_ncontainss": "BLUE"})) == \
        {"alpha-1", "alpha-2", "beta-2", "gamma_1"}
    # the client's % and _ are literal, not wildcards
    assert uuid_set(strapi.get("/trainings", params={"meta_contains": "0%"})) == {"gamma_1"}
    assert uuid_set(strapi.get("/trainings", params={"uuid_contains": "_"})) == {"gamma_1"}


def test_null(strapi):
    assert uuid_set(strapi.get("/trainings", params={"accuracy_null": "true"})) == {"gamma_1"}
    assert len(uuids(strapi.get("/trainings", params={"accuracy_null": "false"}))) == 5
    assert uuid_set(strapi.get("/trainings", params={"version_null": "1"})) == {"gamma-2"}
    r = strapi.get("/trainings", params={"version_null": "perhaps"})
    assert r.status_code == 400 and r.json()["code"] == 400


def test_full_text_q(strapi):
    assert uuid_set(strapi.get("/trainings", params={"_q": "whale"})) == {"beta-1", "beta-2"}
    assert uuid_set(strapi.get("/trainings", params={"_q": "ALPHA"})) == {"alpha-1", "alpha-2"}
    assert uuid_set(strapi.get("/trainings", params={"_q": "0.5"})) == {"beta-1", "beta-2"}
    assert strapi.get("/trainings/count", params={"_q": "fox", "version": "v2"}).json() == 1


def test_where_brackets(strapi):
    assert uuid_set(strapi.get("/trainings?_where[0][accuracy_gte]=0.5&_where[1][rmse_lt]=3")) \
        == {"alpha-1", "alpha-2"}
    assert uuid_set(strapi.get("/trainings?_where[_or][0][version]=v3"
                               "&_where[_or][1][uuid]=alpha-1")) == {"beta-2", "alpha-1"}
    # an _or whose members are groups of several conditions
    got = uuid_set(strapi.get("/trainings?_where[_or][0][version]=v1&_where[_or][0][rmse_gt]=2.5"
                              "&_where[_or][1][accuracy_lt]=0.3"))
    assert got == {"beta-1", "beta-2"}
    # brackets beside a plain filter: both hold
    assert uuid_set(strapi.get("/trainings?version=v1&_where[_or][0][accuracy]=0.9"
                               "&_where[_or][1][rmse]=3")) == {"alpha-1", "beta-1"}
    assert strapi.get("/trainings/count?_where[accuracy_in][]=0.9&_where[accuracy_in][]=0.2"
                      ).json() == 3


def test_where_json(strapi):
    where = {"_or": [{"version": "v3"}, {"accuracy_gte": 0.9, "rmse_lte": 1}]}
    assert uuid_set(strapi.get("/trainings", params={"_where": json.dumps(where)})) == \
        {"beta-2", "alpha-2"}
    where = [{"meta_contains": "whale"}, {"rmse_gt": 1}]
    assert uuid_set(strapi.get("/trainings", params={"_where": json.dumps(where)})) == {"beta-1"}
    where = {"version_in": ["v1", "v2"], "accuracy": None}
    assert uuid_set(strapi.get("/trainings", params={"_where": json.dumps(where)})) == {"gamma_1"}


@pytest.mark.parametrize("query", [
    "_where[0][nope_gte]=1",
    "_where=" + "%7Bnot json",
    "_where[_or]=x",
    "_where[_or][a][uuid]=x",
    "accuracy_gte=abc",
    "accuracy_in=1&accuracy_in=zz",
    "_sort=accuracy:DESC,nope:ASC",
    "_sort=accuracy:UP",
    "_publicationState=draft",
    "_frobnicate=1",
    "uuid[x]=1&uuid=2",
    "accuracy_gt=1&accuracy_gt=2",
    "&".join("a%d_in=1" % i for i in range(70)),
    "_where" + "[0]" * 12 + "[uuid]=x",
])
def test_bad_list_queries_are_400(strapi, query):
    r = strapi.get("/trainings?" + query)
    assert r.status_code == 400, (query, r.status_code, r.text)
    assert r.json()["code"] == 400


def test_values_never_reach_sql_text(strapi, sql):
    evil = "x' OR '1'='1"
    assert uuids(strapi.get("/trainings", params={"uuid_in": [evil, "y"]})) == []
    assert uuids(strapi.get("/trainings", params={"_where": json.dumps({"meta_contains": evil})})) \
        == []
    assert uuids(strapi.get("/trainings", params={"_q": "'; DROP TABLE trainings; --"})) == []
    assert int(sql("SELECT count(*) FROM trainings")[0][0]) >= 6


def test_publication_state(make_workspace):
    _, _, c = make_workspace("pub")
    a = c.post("/trainings", json={"uuid": "pub-a", "accuracy": 0.1}).json()
    b = c.post("/trainings", json={"uuid": "pub-b", "accuracy": 0.2}).json()
    assert a["published_at"] and b["published_at"]
    r = c.put("/trainings/%s" % b["id"], json={"published_at": None})
    assert r.status_code == 200, r.text
    assert r.json()["published_at"] is None
    assert uuids(c.get("/trainings")) == ["pub-a"]  # live by default, as Strapi
    assert uuids(c.get("/trainings", params={"_publicationState": "live"})) == ["pub-a"]
    assert uuid_set(c.get("/trainings", params={"_publicationState": "preview"})) == \
        {"pub-a", "pub-b"}
    assert c.get("/trainings/count", params={"_publicationState": "preview"}).json() == 2
    assert c.get("/trainings/count").json() == 1
    r = c.put("/trainings/%s" % b["id"], json={"published_at": "2019-08-24T14:15:22Z"})
    assert r.status_code == 200 and r.json()["published_at"].startswith("2019-08-24T14:15:22")
    assert c.get("/trainings/count").json() == 2


def test_seed_curl_stores_its_fields(api, sql):
    # The seed's curl sends JSON labelled as a form: its fields are stored.
    u = "seed-curl-%s" % uuid.uuid4().hex[:8]
    body = ('{"uuid":"%s","accuracy":0,"precission":0,"mae":0,"rmse":0,'
            '"binaryPath":"string","version":"string","meta":"string"}' % u)
    r = api.post("/trainings", data=body,
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["uuid"] == u
    for k in ("accuracy", "precission", "mae", "rmse"):
        assert doc[k] == 0, (k, doc)
    assert doc["binaryPath"] == "string" and doc["version"] == "string" and doc["meta"] == "string"
    for k in ("id", "published_at", "created_by", "updated_by"):
        assert k in doc, k
    row = sql("SELECT accuracy, precission, mae, rmse, \"binaryPath\", version, meta "
              "FROM trainings WHERE uuid = :'p1'", u)
    assert len(row) == 1
    assert [float(x) for x in row[0][:4]] == [0, 0, 0, 0]
    assert list(row[0][4:]) == ["string", "string", "string"]
    got = api.get("/trainings/%s" % doc["id"]).json()
    assert got["uuid"] == u and got["binaryPath"] == "string"


# ---- the training API (Akkio, FastAPI) ----

def churn_body(background, **extra):
    body = {"dataset_id": background.datasets["churn"]["dataset_id"],
            "predict_fields": ["churn"], "duration": 10}
    body.update(extra)
    return body


def test_same_training_again_is_existing(api, background):
    first = background.task("churn")
    r = api.post(TRAIN, json=churn_body(background))
    assert r.status_code == 201, r.text
    assert r.json() == {"task_id": first, "existing": True}


@pytest.mark.parametrize("extra", [
    {"duration": "10"}, {"duration": 10.0}, {"duration": " 10 "}, {"duration": "10.0"},
    {"force": "false"}, {"force": 0}, {"force": "no"}, {"force": "off"}, {"force": "0"},
    {"force": "N"}, {"extra_attention": "false", "force": False},
])
def test_lax_mode_accepts_what_pydantic_accepts(api, background, extra):
    # Each is the background churn request in another spelling: deduplicated.
    r = api.post(TRAIN, json=churn_body(background, **extra))
    assert r.status_code == 201, (extra, r.text)
    assert r.json()["task_id"] == background.task("churn"), extra
    assert r.json().get("existing") is True


@pytest.mark.parametrize("extra,type_", [
    ({"duration": "ten"}, "int_parsing"),
    ({"duration": "10.5"}, "int_parsing"),
    ({"duration": 10.5}, "int_from_float"),
    ({"duration": [10]}, "int_type"),
    ({"duration": "61"}, "literal_error"),
    ({"force": 2}, "bool_parsing"),
    ({"force": "maybe"}, "bool_parsing"),
    ({"force": [1]}, "bool_type"),
    ({"dataset_id": 5}, "string_type"),
])
def test_lax_mode_refuses_the_rest(api, background, extra, type_):
    r = api.post(TRAIN, json=churn_body(background, **extra))
    assert r.status_code == 422, r.text
    field = list(extra)[0]
    items = [i for i in r.json()["detail"] if i["loc"] == ["body", field]]
    assert items and items[0]["type"] == type_, r.json()


def test_lax_mode_true_spellings_train(api, churn):
    r = api.post(TRAIN, json={"dataset_id": churn["dataset_id"], "predict_fields": ["churn"],
                              "duration": "10", "force": "yes", "extra_attention": "on"})
    assert r.status_code == 201, r.text
    assert "existing" not in r.json()
    api.wait(r.json()["task_id"], timeout=180)


def test_location_joined_to_the_host_is_served(api, anon, background):
    task = background.task("churn")
    st = api.wait_success(task, timeout=180)
    loc = st["metadata"]["location"]
    assert loc == "/models/train/%s/result" % task  # relative to /api/v1, as the seed's note
    full = api.get("/api/v1" + loc)
    short = api.get(loc)
    assert full.status_code == 200 and short.status_code == 200, short.text
    assert short.json() == full.json()
    assert short.headers["Content-Type"].startswith("application/json")
    # same auth: no key, no result
    r_anon = anon.get(loc)
    assert r_anon.status_code == anon.get("/api/v1" + loc).status_code
    assert r_anon.status_code in (401, 403)
    r = api.get("/models/train/%s/result" % uuid.uuid4())
    assert r.status_code == 404 and "detail" in r.json()


def test_stats_field_type_is_akkios(api, background):
    task = background.task("churn")
    api.wait_success(task, timeout=180)
    res = api.result(task)
    types = {c["field_type"] for c in res["stats"][0]}
    assert types == {"category"}, types
    # the dataset document keeps trainyard's finer type
    ds = api.get("/api/v1/datasets/%s" % background.datasets["churn"]["dataset_id"]).json()
    fields = ds.get("fields") or ds.get("columns") or []
    if isinstance(fields, list):
        churn_f = [f for f in fields if f.get("name") == "churn"]
        if churn_f:
            assert churn_f[0]["type"] in ("boolean", "category")


def test_unknown_timeout_has_its_own_metadata(api, sql):
    ds = api.upload_csv("a,b\n1,x\n2,y\n3,x\n4,y\n", name="timeout-meta")
    task = api.train(ds["dataset_id"], ["a"], duration=10)
    api.wait(task, timeout=180)
    sql("UPDATE jobs SET state = 'timed_out', lease_owner = NULL, error = NULL,"
        " finished_at = now() WHERE id = :'p1'", task)
    st = api.status(task)
    assert st["status"] == "UNKNOWN_TIMEOUT", st
    assert st["metadata"]["type"] == "UNKNOWN_TIMEOUT", st
    assert isinstance(st["metadata"]["message"], str) and st["metadata"]["message"]
    failed = api.upload_csv("a,b\n1,x\n1,y\n1,x\n1,y\n", name="constant-target-conf")
    st = api.wait(api.train(failed["dataset_id"], ["a"], duration=10))
    assert st["metadata"]["type"] == "FAILED" and "message" not in st["metadata"]
