"""The README's walk is run as written (issue 13, part 8): its `sh` blocks
(the first model with curl, the workspace bundle) go to bash against the test
stack, with only the base URL and the key swapped in; ids are captured with
`jq -r`, the status loop ends, the model downloads into a temporary folder,
and the example answers shown beside the commands match what the stack says."""
import json
import os
import re
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def sh_blocks():
    text = open(os.path.join(ROOT, "README.md")).read()
    return re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S)


def test_the_readme_walk_runs_as_written(stack, dev_key, api):
    blocks = sh_blocks()
    assert len(blocks) >= 2, "the README's sh blocks are gone"
    script = "\n".join(blocks[:2])
    assert "B=http://127.0.0.1:8080\n" in script and "KEY=$(cat var/dev-api-key)\n" in script
    script = script.replace("B=http://127.0.0.1:8080\n", "B=%s\n" % stack.base_url)
    script = script.replace("KEY=$(cat var/dev-api-key)\n", "KEY=%s\n" % dev_key)
    # The walk must not write into the checkout (its bundle/ is source code).
    before = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                            text=True).stdout
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    after = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                           text=True).stdout
    assert after == before, "the walk wrote into the checkout:\n" + after
    out = p.stdout
    ids = dict(re.findall(r"^(dataset|task|model|job) (\S+)$", out, re.M))
    for k in ("dataset", "task", "model", "job"):
        assert re.fullmatch(r"[0-9a-f-]{36}", ids.get(k, "")), (k, out)
    assert "status SUCCEEDED" in out, out
    pred = json.loads([l for l in out.splitlines() if l.startswith('{"status":"success"')][0])
    row = pred["predictions"][0]
    assert row["churn"] in ("Yes", "No") and "Probability churn is Yes" in row, row
    files = set(out.split())
    assert {"model.ubj", "preprocess.json", "metrics.json"} <= {f.lstrip("./") for f in files}, out


def test_the_readme_example_answers_match(api):
    """The shapes quoted after "# the answer:" come from the stack."""
    text = open(os.path.join(ROOT, "README.md")).read()
    up = api.upload_csv(open(os.path.join(ROOT, "examples", "churn.csv")).read(), name="churn")
    first = up["fields"][0]
    quoted = re.search(r'# the answer: 201 (\{"dataset_id".*)', text).group(1)
    assert '"rows":%d' % up["rows"] in quoted, (quoted, up["rows"])
    assert '{"name":"%s","type":"%s","missing":%d}' % (first["name"], first["type"],
                                                     first["missing"]) in quoted, (quoted, first)
    assert list(up)[:2] == ["dataset_id", "name"], list(up)
