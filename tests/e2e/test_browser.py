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
    _, key, _ = make_workspace("browser")
    env = dict(os.environ, BASE_URL=stack.base_url, API_KEY=key, CHROMIUM=chromium,
               OUT_DIR=os.path.join(ROOT, "build", "screenshots"))
    p = subprocess.run([node, os.path.join(ROOT, "tests", "browser", "console.mjs")], env=env,
                       capture_output=True, text=True, timeout=300)
    print(p.stdout)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
