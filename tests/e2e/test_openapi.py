"""/openapi.json generates working clients (issue 13, part 1): it validates
with @apidevtools/swagger-parser and lints without errors with Redocly; a
client generated from it by openapi-typescript compiles under tsc --strict
(answers typed, not `never`) and calls the stack through openapi-fetch
(tests/openapi/). The npm packages are pinned in tests/openapi/package.json
(and its lock) and installed here when missing."""
import json
import os
import shutil
import subprocess

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DIR = os.path.join(ROOT, "tests", "openapi")
OUT = os.path.join(DIR, "out")


def run(*cmd, timeout=300, check=True):
    p = subprocess.run(list(cmd), cwd=DIR, capture_output=True, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, "%s failed:\n%s\n%s" % (" ".join(cmd), p.stdout[-4000:],
                                                          p.stderr[-4000:])
    return p


@pytest.fixture(scope="module")
def npm():
    assert shutil.which("node") and shutil.which("npm"), "node/npm missing (scripts/deps.sh)"
    marker = os.path.join(DIR, "node_modules", ".package-lock.json")
    lock = os.path.join(DIR, "package-lock.json")
    if not os.path.exists(marker) or os.path.getmtime(marker) < os.path.getmtime(lock):
        run("npm", "ci", "--no-audit", "--no-fund", timeout=900)
    return os.path.join(DIR, "node_modules", ".bin")


@pytest.fixture(scope="module")
def document(stack, npm):
    os.makedirs(OUT, exist_ok=True)
    r = requests.get(stack.base_url + "/openapi.json", timeout=30)
    assert r.status_code == 200
    path = os.path.join(OUT, "openapi.json")
    with open(path, "w") as f:
        f.write(r.text)
    return r.json(), path


def test_document_is_valid_for_swagger_parser(document):
    doc, path = document
    p = run("node", "validate.mjs", path)
    info = json.loads(p.stdout)
    assert info["valid"] and info["version"] == "3.1.0"
    assert info["operations"] == sum(len(v) for v in doc["paths"].values())


def test_redocly_lint_finds_no_errors(document, npm):
    _, path = document
    p = run(os.path.join(npm, "redocly"), "lint", path, "--format=stylish", check=False)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-2000:]
    assert " error " not in p.stdout, p.stdout[-6000:]


def test_every_operation_is_complete(document):
    doc, _ = document
    ids = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            where = "%s %s" % (method.upper(), path)
            assert op.get("operationId") and op["operationId"] not in ids, where
            ids.add(op["operationId"])
            assert op.get("summary") and op.get("tags"), where
            assert any(code.startswith("2") for code in op["responses"]), where
            for p in op.get("parameters", []):
                assert "schema" in p, (where, p)
            if path != "/healthz" and path != "/openapi.json":
                assert any(code.startswith("4") for code in op["responses"]), where
    # What issue 13 found missing: query parameters, upload bodies, error schemas.
    def params(path, method):
        return {p["name"] for p in doc["paths"][path][method].get("parameters", [])}
    assert "name" in params("/api/v1/datasets", "post")
    assert {"page_id", "sort_by"} <= params("/train/{workspace}/{job_id}", "get")
    assert {"_sort", "_limit", "_start", "_where"} <= params("/trainings", "get")
    upload = doc["paths"]["/api/v1/datasets"]["post"]["requestBody"]["content"]
    assert {"text/csv", "multipart/form-data"} <= set(upload)
    bundle = doc["paths"]["/train/{workspace}"]["post"]["requestBody"]["content"]
    assert {"application/gzip", "application/zip", "multipart/form-data"} <= set(bundle)
    train = doc["paths"]["/api/v1/models/train/new"]["post"]
    assert {"application/json", "application/xml",
            "application/x-www-form-urlencoded"} <= set(train["requestBody"]["content"])
    assert "AkkioValidationError" in json.dumps(train["responses"]["422"])
    assert "WorkspaceError" in json.dumps(doc["paths"]["/train/{workspace}"]["get"]["responses"])
    assert "StrapiError" in json.dumps(doc["paths"]["/trainings"]["post"]["responses"]["400"])


def test_a_generated_typed_client_calls_the_stack(document, npm, stack, dev_key):
    _, path = document
    run(os.path.join(npm, "openapi-typescript"), path, "-o", os.path.join(OUT, "api.d.ts"))
    run(os.path.join(npm, "tsc"), "-p", "tsconfig.json")
    p = run("node", os.path.join(OUT, "js", "client.js"), stack.base_url, dev_key, timeout=600)
    seen = json.loads(p.stdout.strip().splitlines()[-1])
    assert seen["health"] in ("ok", "unhealthy")
    assert seen["dataset_rows"] == 120 and seen["dataset_fields"][0] == "x:number"
    assert seen["missing_status"] == 404 and "no dataset" in seen["missing_detail"]
    assert seen["bad_status"] == 422 and seen["bad_loc"] == ["body", "duration"]
    assert seen["status"] == "SUCCEEDED", seen
    assert seen["predictions"] == 2 and "y" in seen["prediction_keys"]
    assert seen["model_field"] == "y"
    assert seen["trainings_count"] >= 1 and seen["trainings_listed"] >= 1
    assert seen["kaos_has_response"] and seen["strapi_404"] == 404


def test_the_generated_types_are_real(document, npm):
    """A misspelt answer field must not compile: the answers are typed from the
    document, not `any` or `never`."""
    bad = os.path.join(DIR, "out", "bad.ts")
    with open(bad, "w") as f:
        f.write('import type { paths } from "./api.js";\n'
                'type Created = paths["/api/v1/models/train/new"]["post"]["responses"]'
                '["201"]["content"]["application/json"];\n'
                'const ok: Created = { task_id: "x" };\n'
                'const wrong: Created = { taskid: "x" };\n'
                'export { ok, wrong };\n')
    p = run(os.path.join(npm, "tsc"), "--noEmit", "--strict", "--module", "NodeNext",
            "--moduleResolution", "NodeNext", "--skipLibCheck", bad, check=False)
    assert p.returncode != 0 and "taskid" in p.stdout, p.stdout
    assert "ok: Created" not in p.stdout
