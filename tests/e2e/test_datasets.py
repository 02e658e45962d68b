"""/api/v1/datasets: upload (text/csv and multipart), list, show, delete, and
malformed CSVs refused with a line number and nothing kept."""
import pytest

from conftest import items_of


def counts(sql, workspace):
    """Datasets and artifacts of one workspace: nothing another test (or a
    bundle job building its dataset) writes elsewhere can move it."""
    return sql("SELECT (SELECT count(*) FROM datasets d WHERE d.workspace_id = w.id),"
               "       (SELECT count(*) FROM artifacts a WHERE a.workspace_id = w.id)"
               "  FROM workspaces w WHERE w.name = :'p1'", workspace)[0]


@pytest.fixture(scope="module")
def mine(make_workspace):
    """(name, client) of a workspace of this module's own."""
    name, _, client = make_workspace("dsets")
    return name, client


def fields_by_name(doc):
    return {f["name"]: f for f in doc["fields"]}


def test_upload_csv_infers_types(api, churn, churn_csv):
    assert churn["name"] == "churn"
    assert churn["rows"] == len(churn_csv.strip().splitlines()) - 1
    f = fields_by_name(churn)
    assert list(f) == churn_csv.splitlines()[0].split(",")
    assert f["tenure"]["type"] == "number"
    assert f["monthly_charges"]["type"] == "number"
    assert f["contract"]["type"] == "category"
    assert f["churn"]["type"] in ("category", "boolean")
    assert f["senior_citizen"]["type"] in ("number", "boolean", "category")


def test_types_and_missing_cells(api):
    text = ("num,cat,flag,text\n"
            "1.5,red,true,alpha one\n"
            ",blue,false,beta two\n"
            "3,red,true,gamma three\n"
            "4,,false,delta four\n"
            "5e2,blue,true,epsilon five\n")
    doc = api.upload_csv(text, name="types")
    assert doc["rows"] == 5
    f = fields_by_name(doc)
    assert f["num"]["type"] == "number"
    assert f["flag"]["type"] == "boolean"
    assert f["cat"]["type"] == "category"
    assert f["text"]["type"] in ("string", "category")
    shown = api.get("/api/v1/datasets/%s" % doc["dataset_id"]).json()
    sf = fields_by_name(shown)
    missing = {k: v["missing"] for k, v in sf.items()}
    assert missing["num"] == 1 and missing["cat"] == 1 and missing["flag"] == 0, missing


def test_upload_multipart(api, churn_csv, sql):
    r = api.post("/api/v1/datasets", params={"name": "multi"},
                 files={"file": ("churn.csv", churn_csv.encode(), "text/csv")})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["rows"] == 500
    assert doc["name"] == "multi"
    sha = sql("SELECT sha256 FROM datasets WHERE id = :'p1'", doc["dataset_id"])[0][0]
    import hashlib
    assert sha == hashlib.sha256(churn_csv.encode()).hexdigest()


def test_list_show_delete(api, churn_csv):
    doc = api.upload_csv(churn_csv[:2000].rsplit("\n", 1)[0] + "\n", name="to-delete")
    ds = doc["dataset_id"]
    listing = items_of(api.get("/api/v1/datasets").json(), "datasets")
    assert ds in [d["dataset_id"] for d in listing]
    shown = api.get("/api/v1/datasets/%s" % ds)
    assert shown.status_code == 200
    assert shown.json()["dataset_id"] == ds and shown.json()["rows"] == doc["rows"]
    r = api.delete("/api/v1/datasets/%s" % ds)
    assert r.status_code == 200, r.text
    assert r.json() == {"dataset_id": ds, "deleted": True}
    assert api.get("/api/v1/datasets/%s" % ds).status_code == 404
    assert api.delete("/api/v1/datasets/%s" % ds).status_code == 404
    listing = items_of(api.get("/api/v1/datasets").json(), "datasets")
    assert ds not in [d["dataset_id"] for d in listing]


def test_unknown_dataset_is_404(api):
    r = api.get("/api/v1/datasets/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404
    assert "detail" in r.json()
    r = api.get("/api/v1/datasets/not-a-uuid")
    assert r.status_code == 404
    assert r.json() == {"detail": "There is no dataset with id: not-a-uuid"}


BAD_CSVS = [
    ("ragged", "a,b,c\n1,2,3\n4,5\n6,7,8\n", "line 3: ragged row: 2 fields, expected 3"),
    ("bad-quote", 'a,b\n1,"unterminated\n2,3\n', "line 2: unterminated quote"),
    ("dup-columns", "a,b,a\n1,2,3\n", 'line 1: duplicate column name "a"'),
    ("empty-column-name", "a,,c\n1,2,3\n", "line 1: empty column name (column 2)"),
    ("no-header", "", "line 1: no header (empty input)"),
    ("not-utf8", b"a,b\n1,\xff\xfe\n", "line 2: not valid UTF-8"),
]


@pytest.mark.parametrize("name,body,detail", BAD_CSVS, ids=[c[0] for c in BAD_CSVS])
def test_malformed_csv_refused_nothing_kept(mine, sql, name, body, detail):
    ws, c = mine
    before = counts(sql, ws)
    data = body.encode() if isinstance(body, str) else body
    r = c.post("/api/v1/datasets", params={"name": name}, data=data,
               headers={"Content-Type": "text/csv"})
    assert r.status_code == 400, r.text
    assert r.json() == {"detail": detail}
    assert counts(sql, ws) == before


def test_big_ragged_csv_refused_nothing_kept(mine, sql):
    """A ragged row deep in a multi-chunk upload still rolls back everything."""
    ws, api = mine
    before = counts(sql, ws)
    rows = ["a,b,c"] + ["%d,%d,%d" % (i, i, i) for i in range(200000)]
    rows[150001] = "1,2"
    r = api.post("/api/v1/datasets", params={"name": "late-ragged"},
                 data="\n".join(rows).encode() + b"\n", headers={"Content-Type": "text/csv"})
    assert r.status_code == 400, r.text
    # rows[150001] is the file's line 150002 (the header is line 1).
    assert r.json() == {"detail": "line 150002: ragged row: 2 fields, expected 3"}
    assert counts(sql, ws) == before


def test_missing_name_or_body(mine, sql):
    ws, api = mine
    before = counts(sql, ws)
    r = api.post("/api/v1/datasets", data=b"", headers={"Content-Type": "text/csv"})
    assert r.status_code == 400, r.text
    assert r.json() == {"detail": "line 1: no header (empty input)"}
    assert counts(sql, ws) == before
