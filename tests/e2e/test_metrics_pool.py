"""/metrics is one view of the whole API pool (issue 13, part 6): counters live
in shared memory created before the workers fork, so whichever worker answers
a scrape, the series are the same and only grow; promtool accepts the text;
queue depth and age per workspace, job durations by outcome, trainer slots,
uploaded bytes and per-route latency histograms are there."""
import re
import shutil
import subprocess
import threading
import time

import pytest
import requests

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$")


def scrape(base_url):
    # A new connection each time: nginx hands it to any idle worker.
    r = requests.get(base_url + "/metrics", timeout=30, headers={"Connection": "close"})
    assert r.status_code == 200, r.text
    return r.text


def samples(text):
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def counter_families(text):
    return {m.group(1) for m in re.finditer(r"^# TYPE (\S+) (?:counter|histogram)$", text, re.M)}


def is_counter(series, families):
    name = series.split("{", 1)[0]
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in families:
            return True
    return name in families


def burst(base_url, n=8):
    threads = [threading.Thread(target=lambda: requests.get(
        base_url + "/healthz", timeout=30, headers={"Connection": "close"})) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_promtool_accepts_the_metrics(stack, api):
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing (Debian prometheus; scripts/deps.sh installs it)"
    api.get("/no/such/route")
    api.get("/api/v1/datasets")
    text = scrape(stack.base_url)
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    # promtool exits 1 for lint findings and errors alike; none is accepted.
    assert p.returncode == 0, p.stdout + p.stderr
    for family in ("trainyard_http_request_duration_seconds", "trainyard_http_requests_total",
                   "trainyard_upload_bytes_total", "trainyard_predictions_total",
                   "trainyard_model_cache_hits_total", "trainyard_trainer_slots",
                   "trainyard_job_duration_seconds", "trainyard_queue_depth",
                   "trainyard_queue_oldest_seconds"):
        assert "# TYPE %s " % family in text, family
    # No series is labelled by the answering worker's pid except the
    # per-worker breakdowns (requests, cache), which list every live worker
    # at once.
    for line in text.splitlines():
        if 'worker="' in line and not line.startswith("#"):
            assert line.startswith(("trainyard_api_worker_requests_total{",
                                    "trainyard_api_worker_cache_models{")), line


def test_scrapes_in_a_row_are_monotonic_whichever_worker_answers(stack, api_worker_pids):
    prev, families = None, set()
    for i in range(16):
        burst(stack.base_url)
        text = scrape(stack.base_url)
        families |= counter_families(text)
        cur = samples(text)
        if prev is not None:
            for series, v in prev.items():
                if not is_counter(series, families) or series not in cur:
                    continue
                assert cur[series] >= v, "%s went from %s to %s (scrape %d)" % (series, v,
                                                                                cur[series], i)
        prev = cur
    # The pool's totals moved by at least what this test sent (16 bursts of 8).
    total = sum(v for k, v in prev.items()
                if k.startswith('trainyard_http_requests_total{status="200"'))
    assert total >= 16 * 8
    # Every live worker is listed in one scrape, not only the one answering.
    workers = {int(m) for m in re.findall(r'trainyard_api_worker_requests_total\{worker="(\d+)"',
                                          text)}
    assert workers and workers <= set(api_worker_pids()), (workers, api_worker_pids())


def test_latency_histogram_per_route_and_status_class(stack, api):
    for _ in range(3):
        api.get("/api/v1/datasets/00000000-0000-0000-0000-000000000000")
    s = samples(scrape(stack.base_url))
    labels = 'method="GET",route="/api/v1/datasets/{dataset_id}",class="4xx"'
    count = s.get("trainyard_http_request_duration_seconds_count{%s}" % labels)
    assert count is not None and count >= 3, sorted(k for k in s if "dataset_id" in k)
    assert s["trainyard_http_request_duration_seconds_bucket{%s,le=\"+Inf\"}" % labels] == count
    assert s["trainyard_http_requests_total{status=\"404\",class=\"4xx\"}"] >= 3


def test_uploaded_bytes_are_counted(stack, api):
    before = samples(scrape(stack.base_url)).get("trainyard_upload_bytes_total", 0)
    body = "a,b,y\n" + "".join("%d,%d,%d\n" % (i, i * 2, i % 2) for i in range(200))
    api.upload_csv(body, name="metrics-bytes")
    after = samples(scrape(stack.base_url))["trainyard_upload_bytes_total"]
    assert after - before >= len(body)


def test_queue_depth_age_and_job_durations(stack, make_workspace, main_trainer_paused):
    name, key, c = make_workspace("mq")
    body = "a,b,y\n" + "".join("%d,%d,%d\n" % (i, i * 3 % 7, i % 2) for i in range(60))
    ds = c.upload_csv(body, name="q")["dataset_id"]
    task = c.train(ds, ["y"], duration=10)
    time.sleep(1.2)
    s = samples(scrape(stack.base_url))
    assert s.get('trainyard_queue_depth{workspace="%s"}' % name) == 1, \
        sorted(k for k in s if "queue" in k)
    assert s['trainyard_queue_oldest_seconds{workspace="%s"}' % name] >= 1.0
    killed = s.get('trainyard_job_duration_seconds_count{outcome="killed"}', 0)
    # A queued job is cancelled at once: it ends "killed" and is timed.
    r = c.delete("/train/%s/%s" % (name, task))
    assert r.status_code in (200, 202, 204), r.text
    for _ in range(50):
        s = samples(scrape(stack.base_url))
        if s.get('trainyard_job_duration_seconds_count{outcome="killed"}', 0) > killed:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the killed job was not timed")
    assert 'trainyard_queue_depth{workspace="%s"}' % name not in s
    assert s['trainyard_trainer_slots{state="busy"}'] >= 0
    assert s['trainyard_trainer_slots{state="free"}'] >= 0
