"""The web console in a real browser: tests/browser/console.mjs drives
Debian's headless chromium (puppeteer-core, from web/node_modules) through
sign-in, upload, training, the model page, download and prediction, plus the
error paths, against this stack. It runs in a fresh workspace so that other
tests' datasets and jobs do not change what the pages show. Screenshots of
every page land in build/screenshots/ for the reviewer."""
import os
import shutil
import subprocess

from conftest import ROOT


def test_console_in_chromium(stack, make_workspace):
    node = shutil.which("node")
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    assert node, "node is missing: scripts/deps.sh installs nodejs"
    assert os.path.exists(chromium), "chromium is missing: scripts/deps.sh installs it"
    assert os.path.isdir(os.path.join(ROOT, "web", "node_modules", "puppeteer-core")), \
        "web/node_modules is missing: make build (web/build.sh) installs it"
    name, key, client = make_workspace("browser")
    # A second workspace of the account, with a dataset of its own: the
    # picker must show it on the datasets page, and hide the first's.
    second = name + "-2"
    stack.cli("workspace", "create", second, "--account", name)
    r = client.post("/api/v1/datasets", params={"name": "picked-ds"}, data=b"a,b\n1,x\n2,y\n",
                    headers={"Content-Type": "text/csv", "X-Trainyard-Workspace": second})
    assert r.status_code == 201, r.text
    env = dict(os.environ, BASE_URL=stack.base_url, API_KEY=key, CHROMIUM=chromium,
               OUT_DIR=os.path.join(ROOT, "build", "screenshots"), SECOND_WS=second,
               SECOND_DATASET="picked-ds")
    p = subprocess.run([node, os.path.join(ROOT, "tests", "browser", "console.mjs")], env=env,
                       capture_output=True, text=True, timeout=300)
    print(p.stdout)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
