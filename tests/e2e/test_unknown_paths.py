"""Unknown paths answer in the shape of the dialect whose prefix they share
(issue 13, part 8), as the README documents: Akkio's FastAPI shape under
/api/v1 (and /api, /models), Akkio v1's under /v1, Strapi's under /trainings,
KAOS's under its workspace routes; trainyard's own shape elsewhere."""
import pytest

CASES = [
    ("/api/v1/nothing", "akkio"),
    ("/api/v1/models/train/x/y/z", "akkio"),
    ("/api/v2/models", "akkio"),
    ("/models/nothing", "akkio"),
    ("/v1/nothing", "akkio_v1"),
    ("/v1/models/extra", "akkio_v1"),
    ("/trainings/1/nothing", "strapi"),
    ("/trainings/count/more", "strapi"),
    ("/train/dev/a/b/c/d", "kaos"),
    ("/workspace/dev/nothing", "kaos"),
    ("/data/dev/nothing", "kaos"),
    ("/build/dev/x/y/z", "kaos"),
    ("/nothing/at/all", "plain"),
    ("/healthz/more", "plain"),
]


def shape(doc):
    if set(doc) == {"detail"}:
        return "akkio"
    if doc.get("status") == "error" and "message" in doc:
        return "akkio_v1"
    if set(doc) == {"code", "message"}:
        return "strapi"
    if set(doc) == {"error_code", "message"}:
        return "kaos"
    if set(doc) == {"error"} and {"status", "code", "message"} <= set(doc["error"]):
        return "plain"
    return repr(doc)


@pytest.mark.parametrize("path,dialect", CASES)
def test_unknown_path_in_its_dialects_shape(api, path, dialect):
    r = api.get(path)
    assert r.status_code == 404, (path, r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert shape(doc) == dialect, (path, doc)
    if dialect == "kaos":
        assert doc["error_code"] == "NOT_FOUND"
    if dialect == "strapi":
        assert doc["code"] == 404
    if dialect == "akkio":
        assert doc["detail"] == "Not Found"


def test_unknown_method_on_a_known_path_is_405_in_its_shape(api):
    r = api.request("PATCH", "/trainings/1")
    assert r.status_code == 405 and set(r.json()) == {"code", "message"}
    r = api.request("PATCH", "/api/v1/datasets")
    assert r.status_code == 405 and set(r.json()) == {"detail"}
