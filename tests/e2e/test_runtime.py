"""test_runtime.py — the FastCGI runtime under abuse: nothing unauthenticated
costs a worker more than a few kilobytes, slow clients never hold a worker,
kept-alive connections outnumbering workers never stall a request, uploads
are capped per key, and long waits are parked instead of holding a worker.

These keep the attacks of the runtime issue as tests: the stack survives and
answers. Speed and memory figures are benchmarks (bench/http_attack.sh)."""
import json
import os
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import requests

from conftest import ws_count


def rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def zeros_json(n_bytes):
    # "[0,0,...,0]": about n_bytes of the smallest JSON values there are.
    return b"[" + b"0," * (n_bytes // 2 - 1) + b"0]"


def test_unauthenticated_32mb_body_costs_no_worker_memory(stack, api_worker_pids):
    # Two 31 MB bodies without a key: zeros (16 million values: past the
    # route's field cap, 413 while still scanning) and long strings (within
    # the cap: scanned to the end, no key found, 401). Neither is decoded.
    zeros = zeros_json(31 * 1024 * 1024)
    strings = json.dumps({"id": "x", "data": ["y" * 1000] * (31 * 1024)}).encode()
    errors = []

    def attack(body, want):
        try:
            r = requests.post(stack.base_url + "/v1/models", data=body,
                              headers={"Content-Type": "application/json"}, timeout=120)
            if r.status_code != want:
                errors.append((want, r.status_code, r.text[:200]))
        except requests.RequestException as e:
            errors.append(str(e))

    threads = [threading.Thread(target=attack, args=(zeros, 413) if i % 2 else (strings, 401))
               for i in range(6)]
    for t in threads:
        t.start()
    peak = 0.0
    while any(t.is_alive() for t in threads):
        peak = max([peak] + [rss_mb(p) for p in api_worker_pids()])
        assert requests.get(stack.base_url + "/healthz", timeout=30).status_code in (200, 503)
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert errors == []
    # The body was spooled to a file and scanned, never decoded (64 MB is
    # the bound under attack; a decoded tree was 1 GB).
    # Under ASan (make test-asan-e2e) RSS counts its shadow memory and
    # quarantine, not the worker's: the bound is asserted on the plain build.
    if not os.environ.get("TRAINYARD_E2E_ASAN"):
        assert peak < 64, "an API worker reached %.1f MB" % peak


def test_too_many_fields_refused_before_a_tree_is_built(api, dev_key, stack):
    body = zeros_json(60 * 1024)  # ~30,000 array items in 60 KB
    r = api.post("/api/v1/models/train/new", data=body,
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json() == {"detail": "json: more than 10000 fields"}


def test_key_in_the_body_authenticates_json_and_form(stack, dev_key):
    url = stack.base_url + "/v1/models"
    missing = "00000000-0000-0000-0000-000000000000"
    # A valid key in the body gets as far as the model lookup (404), a wrong
    # one is refused before the body is decoded (401).
    r = requests.post(url, json={"id": missing, "data": [{"a": 1}], "api_key": dev_key}, timeout=30)
    assert r.status_code == 404, r.text
    r = requests.post(url, data={"id": missing, "data": "[]", "api_key": dev_key}, timeout=30)
    # form: "data" is a string, validated after auth (so the key was taken)
    assert r.status_code == 422, r.text
    assert r.json() == {"status": "error", "field": "data", "message": "data: Input should be a "
                        "valid list of rows ({field: value} objects)"}
    r = requests.post(url, json={"id": missing, "data": [], "api_key": "ty_000000000000_" + "0" * 64},
                      timeout=30)
    assert r.status_code == 401
    # Ambiguous (twice) is no key at all.
    body = '{"api_key":"%s","api_key":"%s","id":"%s","data":[]}' % (dev_key, dev_key, missing)
    r = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 401
    # The query and headers still work, body or not.
    r = requests.post(url + "?api_key=" + dev_key, json={"id": missing, "data": []}, timeout=30)
    assert r.status_code == 404


def slow_upload(base_url, key, stop, started):
    u = urlparse(base_url)
    s = socket.create_connection((u.hostname, u.port), timeout=60)
    try:
        s.sendall(("POST /api/v1/datasets?name=slow HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\n"
                   "Content-Type: text/csv\r\nContent-Length: 100000000\r\n\r\na,b\n" % key).encode())
        started.release()
        while not stop.is_set():
            s.sendall(b"1,2\n")
            stop.wait(1.0)
    except OSError:
        pass
    finally:
        s.close()


def test_slow_uploads_never_hold_a_worker(stack, dev_key, api):
    # More trickling uploads than there are workers: nginx holds them all.
    stop = threading.Event()
    started = threading.Semaphore(0)
    n = 8
    threads = [threading.Thread(target=slow_upload, args=(stack.base_url, dev_key, stop, started))
               for _ in range(n)]
    for t in threads:
        t.start()
    try:
        for _ in range(n):
            assert started.acquire(timeout=30)
        time.sleep(1.5)
        for _ in range(20):
            r = api.get("/api/v1/datasets", timeout=10)
            assert r.status_code == 200
    finally:
        stop.set()
        for t in threads:
            t.join()


def test_kept_connections_outnumbering_workers_never_stall(stack, dev_key):
    # 64 clients with their own keep-alive connections: nginx opens more
    # FastCGI connections than there are workers; every request is answered.
    def client(i):
        s = requests.Session()
        codes = []
        for _ in range(25):
            r = s.get(stack.base_url + ("/healthz" if i % 2 else "/trainings/count"),
                      headers={"X-API-Key": dev_key}, timeout=30)
            codes.append(r.status_code)
        return codes

    with ThreadPoolExecutor(64) as ex:
        results = list(ex.map(client, range(64)))
    flat = [c for codes in results for c in codes]
    assert len(flat) == 64 * 25
    assert set(flat) <= {200, 503}  # 503: /healthz without a fresh trainer
    assert flat.count(200) >= len(flat) // 2


def test_upload_slots_per_key_answer_429(stack, make_workspace, sql):
    # Both of the key's slots (TRAINYARD_UPLOADS_PER_KEY=2) taken by a
    # session that holds the advisory locks the uploads use. A workspace and
    # key of the test's own: nothing else uploads with it or into it.
    ws, key, api = make_workspace("slots")
    prefix = key.split("_")[1]
    name = "trainyard-upload:" + prefix
    holder = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", stack.db_url, "-c",
         "SELECT pg_advisory_lock(hashtext('%s'), 0), pg_advisory_lock(hashtext('%s'), 1), "
         "pg_sleep(60)" % (name, name)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, PGAPPNAME="ty-slot-holder"))
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            held = sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                       "AND classid::int = hashtext(:'p1') AND objid IN (0, 1)", name)[0][0]
            if int(held) == 2:
                break
            time.sleep(0.1)
        before = ws_count(sql, "datasets", ws)
        r = api.post("/api/v1/datasets?name=capped", data=b"a,b\n1,2\n3,4\n",
                     headers={"Content-Type": "text/csv"})
        assert r.status_code == 429, r.text
        assert "uploads in progress" in r.json()["detail"]
        assert r.headers.get("Retry-After") == "5"
        assert ws_count(sql, "datasets", ws) == before
    finally:
        # The server keeps sleeping (and holding) after its client dies.
        sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'ty-slot-holder'")
        holder.kill()
        holder.wait()
    deadline = time.time() + 20
    while True:
        r = api.post("/api/v1/datasets?name=uncapped", data=b"a,b\n1,2\n3,4\n",
                     headers={"Content-Type": "text/csv"})
        if r.status_code != 429 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 201, r.text


def test_status_wait_parks_without_holding_workers(stack, api, churn):
    task = api.train(churn["dataset_id"], ["churn"], duration=10, force=True)
    n = 12  # four times the e2e pool's workers
    with ThreadPoolExecutor(n) as ex:
        futures = [ex.submit(api.get, "/api/v1/models/train/%s/status?wait=120" % task,
                             timeout=180) for _ in range(n)]
        time.sleep(1.0)
        # The pool still answers while all of them wait.
        for _ in range(10):
            assert api.get("/api/v1/models/train/%s/status" % task).status_code == 200
        answers = [f.result() for f in futures]
    for r in answers:
        assert r.status_code == 200
        assert r.json()["status"] in ("SUCCEEDED", "FAILED")
    assert api.get("/api/v1/models/train/%s/status" % task).json()["status"] == answers[0].json()["status"]


def test_status_wait_times_out_with_the_current_state(api, churn, main_trainer_paused):
    task = api.train(churn["dataset_id"], ["churn"], duration=10, force=True)
    r = api.get("/api/v1/models/train/%s/status?wait=1" % task, timeout=30)
    assert r.status_code == 200
    assert r.json()["status"] == "PENDING"
    r = api.get("/api/v1/models/train/%s/status?wait=241" % task)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "wait"]
