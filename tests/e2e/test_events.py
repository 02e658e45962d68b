"""test_events.py — live job updates as server-sent events (GET /api/v1/events).

Through real nginx and the real pool: a job held running by the trainer's
test mode streams its state, progress, estimate and log lines while it
runs (read off a raw socket, so nginx's buffering would show), the stream
resumes from Last-Event-ID, EventSource's ticket authenticates alone and
dies with a forged or revoked key, streams are capped pool-wide (503 with
Retry-After past the cap, while ordinary requests are still answered), and
one workspace never sees another's events.
"""
import json
import os
import socket
import threading
import time
import urllib.parse

import pytest

FINAL = {"succeeded", "failed", "killed", "timed_out"}


class Stream:
    """One server-sent event stream read off a plain socket (HTTP/1.1)."""

    def __init__(self, base_url, path, headers=None, timeout=40):
        u = urllib.parse.urlparse(base_url)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        lines = ["GET %s HTTP/1.1" % path, "Host: %s" % u.netloc, "Accept: text/event-stream",
                 "Connection: close"]
        lines += ["%s: %s" % kv for kv in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        status_line, *hdrs = head.decode().split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {h.split(":", 1)[0].lower(): h.split(":", 1)[1].strip() for h in hdrs if ":" in h}
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self.body = b""     # de-chunked bytes not yet parsed
        self.comments = []
        self.retry = None

    def _until(self, sep):
        while sep not in self.buf:
            got = self.sock.recv(65536)
            if not got:
                raise EOFError("connection closed")
            self.buf += got
        out, self.buf = self.buf.split(sep, 1)
        return out

    def _more(self):
        if not self.chunked:
            got = self.sock.recv(65536) if not self.buf else b""
            if not got and not self.buf:
                raise EOFError("stream ended")
            self.body += self.buf + got
            self.buf = b""
            return
        size = int(self._until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            raise EOFError("stream ended")
        while len(self.buf) < size + 2:
            got = self.sock.recv(65536)
            if not got:
                raise EOFError("connection closed mid-chunk")
            self.buf += got
        self.body += self.buf[:size]
        self.buf = self.buf[size + 2:]

    def next_event(self):
        """The next event as a dict (id, event, data parsed as JSON, at)."""
        while True:
            while b"\n\n" not in self.body:
                self._more()
            block, self.body = self.body.split(b"\n\n", 1)
            ev = {}
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    self.comments.append(line)
                elif line.startswith("retry:"):
                    self.retry = int(line[6:].strip())
                elif ":" in line:
                    k, v = line.split(":", 1)
                    ev[k] = v[1:] if v.startswith(" ") else v
            if "data" in ev:
                ev["data"] = json.loads(ev["data"])
                ev["at"] = time.time()
                return ev

    def events(self):
        try:
            while True:
                yield self.next_event()
        except EOFError:
            return

    def close(self):
        self.sock.close()


def open_stream(base_url, path, headers=None, wait=20):
    """A stream, waiting (as the console's fallback would) while the pool's
    streams are all taken: a slot frees within a second or two of the
    previous test's client closing its socket."""
    deadline = time.time() + wait
    while True:
        s = Stream(base_url, path, headers)
        if s.status != 503 or time.time() > deadline:
            return s
        s.close()
        time.sleep(0.5)


def auth(key, **extra):
    h = {"X-API-Key": key}
    h.update(extra)
    return h


def held_job(client, dataset_id, seconds):
    """A training the trainer holds running for `seconds`, reporting progress."""
    return client.train(dataset_id, ["churn"], duration=10, force=True,
                        test_mode={"sleep": seconds})


@pytest.fixture
def ws(make_workspace, churn_csv):
    name, key, client = make_workspace("ev")
    ds = client.upload_csv(churn_csv, name="churn")
    return {"name": name, "key": key, "client": client, "dataset": ds["dataset_id"]}


def follow(base_url, path, headers, until, deadline):
    """Events of a stream, reconnecting with Last-Event-ID as EventSource
    does, until until(events) or the deadline. Returns (events, streams)."""
    seen, streams, last = [], [], None
    while time.time() < deadline and not until(seen):
        h = dict(headers)
        if last:
            h["Last-Event-ID"] = last
        s = open_stream(base_url, path, h)
        assert s.status == 200, s.status
        streams.append(s)
        for ev in s.events():
            seen.append(ev)
            last = ev.get("id", last)
            if until(seen) or time.time() > deadline:
                break
        s.close()
    return seen, streams


def test_events_follow_a_running_job(stack, ws):
    c, base = ws["client"], stack.base_url
    task = held_job(c, ws["dataset"], 8)
    path = "/api/v1/events?job_id=%s" % task
    t0 = time.time()
    seen, streams = follow(base, path, auth(ws["key"]),
                           lambda evs: any(e["event"] == "end" for e in evs), time.time() + 150)
    first = streams[0]
    assert first.headers["content-type"].startswith("text/event-stream")
    # (X-Accel-Buffering is nginx's to read, not passed on: that events
    # arrive unbuffered is shown by their arrival times below.)
    assert first.headers.get("cache-control") == "no-cache"
    assert first.retry == 2000
    jobs = [e for e in seen if e["event"] == "job"]
    logs = [e for e in seen if e["event"] == "log"]
    assert jobs and all(e["data"]["job_id"] == task for e in jobs)
    assert seen[-1]["event"] == "end" and seen[-1]["data"]["job_id"] == task
    assert jobs[-1]["data"]["state"] == "succeeded" and jobs[-1]["data"]["progress"] == 1
    running = [e for e in jobs if e["data"]["state"] == "running"]
    # Progress arrived while the job ran, seconds before its end, in steps.
    assert len(running) >= 3, [e["data"] for e in jobs]
    assert seen[-1]["at"] - running[0]["at"] >= 3
    progress = [e["data"]["progress"] for e in running]
    assert len({p for p in progress if 0 < p < 1}) >= 2, progress
    assert any(e["data"]["eta_seconds"] is not None for e in running)
    # The test mode's log line came as a log event, ids increasing.
    assert any("test mode" in e["data"]["line"] for e in logs)
    seqs = [e["data"]["seq"] for e in logs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # Every event has an id: "<µs>-<log line>", never going back.
    ids = [tuple(map(int, e["id"].split("-"))) for e in seen]
    assert all(b[1] >= a[1] for a, b in zip(ids, ids[1:]))
    assert time.time() - t0 < 150

    # Resuming from an id in the middle sends only the lines after it.
    mid = logs[len(logs) // 2]
    s = open_stream(base, path, auth(ws["key"], **{"Last-Event-ID": mid["id"]}))
    again = list(s.events())
    s.close()
    again_logs = [e["data"]["seq"] for e in again if e["event"] == "log"]
    assert all(q > mid["data"]["seq"] for q in again_logs)
    assert again[-1]["event"] == "end"
    # A malformed Last-Event-ID is refused naming the header.
    r = c.get(path, headers={"Last-Event-ID": "yesterday"})
    assert r.status_code == 400 and "Last-Event-ID" in r.text, r.text


def test_events_of_the_workspace_across_dialects(stack, ws):
    """The workspace stream shows every job, whichever API queued it."""
    c, base = ws["client"], stack.base_url
    s = open_stream(base, "/api/v1/events", auth(ws["key"]))
    assert s.status == 200
    akkio = held_job(c, ws["dataset"], 3)
    r = c.post("/trainings", json={"uuid": "ev-" + akkio[:8], "version": "v1",
                                   "meta": {"dataset_id": ws["dataset"],
                                            "predict_fields": ["churn"], "duration": 10,
                                            "force": True}})
    assert r.status_code in (200, 201), r.text
    dialects, deadline = {}, time.time() + 20
    for ev in s.events():
        if ev["event"] == "job":
            dialects[ev["data"]["job_id"]] = ev["data"]["dialect"]
        if set(dialects.values()) >= {"akkio", "strapi"} or time.time() > deadline:
            break
    s.close()
    assert dialects.get(akkio) == "akkio" and "strapi" in dialects.values(), dialects


def test_events_ticket_for_eventsource(stack, ws, make_workspace):
    c, base = ws["client"], stack.base_url
    r = c.post("/api/v1/events/ticket")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["workspace"] == ws["name"] and doc["expires_in"] == 3600
    ticket = doc["ticket"]
    # The ticket alone authenticates the stream, and nothing else.
    s = open_stream(base, "/api/v1/events?ticket=" + urllib.parse.quote(ticket))
    assert s.status == 200
    s.close()
    r = c.get("/api/v1/datasets?ticket=" + urllib.parse.quote(ticket), no_key=True)
    assert r.status_code == 401
    # Forged, malformed: 401 naming the ticket.
    forged = ticket[:-1] + ("0" if ticket[-1] != "0" else "1")
    for bad in (forged, "nonsense", ticket.replace(ws["name"], "other-ws")):
        r = c.get("/api/v1/events?ticket=" + urllib.parse.quote(bad), no_key=True)
        assert r.status_code == 401, (bad, r.text)
        assert "ticket" in r.text, r.text
    # It dies with its key.
    name, key, other = make_workspace("evt")
    t2 = other.post("/api/v1/events/ticket").json()["ticket"]
    s = open_stream(base, "/api/v1/events?ticket=" + urllib.parse.quote(t2))
    assert s.status == 200
    s.close()
    stack.cli("key", "revoke", key)
    r = c.get("/api/v1/events?ticket=" + urllib.parse.quote(t2), no_key=True)
    assert r.status_code == 401, r.text
    # Without a key or ticket: 401 as everywhere.
    assert c.get("/api/v1/events", no_key=True).status_code == 401
    # The access log never shows a ticket (redacted like api_key).
    time.sleep(1.5)  # the access log is flushed every second
    text = open(os.path.join(stack.var, "log", "nginx-access.log"), errors="replace").read()
    assert ticket.split(".")[-1] not in text and t2.split(".")[-1] not in text
    assert "ticket=REDACTED" in text


def test_events_isolated_between_workspaces(stack, ws, make_workspace):
    name_b, key_b, b = make_workspace("evb")
    s = open_stream(stack.base_url, "/api/v1/events", auth(key_b))
    assert s.status == 200
    task = held_job(ws["client"], ws["dataset"], 2)
    s.sock.settimeout(6)
    seen = []
    try:
        deadline = time.time() + 5
        while time.time() < deadline:
            seen.append(s.next_event())
    except (socket.timeout, EOFError):
        pass
    s.close()
    assert all(e["data"].get("job_id") != task for e in seen), seen
    # Another workspace's job is not found.
    r = b.get("/api/v1/events?job_id=%s" % task)
    assert r.status_code == 404, r.text


def test_events_capped_across_the_pool(stack, ws):
    """Streams never take every worker: past the cap 503 + Retry-After, and
    ordinary requests are answered while the streams are open."""
    c, base = ws["client"], stack.base_url
    workers = int(os.environ.get("TRAINYARD_WORKERS", "3"))
    opened, refused = [], None
    for i in range(workers + 2):
        s = open_stream(base, "/api/v1/events", auth(ws["key"]), wait=20 if i == 0 else 0)
        if s.status == 503:
            refused = s
            break
        assert s.status == 200
        opened.append(s)
    assert refused is not None, "no 503 after %d streams" % len(opened)
    assert 1 <= len(opened) < workers
    assert refused.headers.get("retry-after") == "10"
    body = refused.sock.recv(65536).decode(errors="replace") + refused.buf.decode(errors="replace")
    refused.close()
    assert "TRAINYARD_EVENT_STREAMS" in body, body
    # The rest of the pool still answers, promptly.
    for path in ("/api/v1/datasets", "/train/%s" % ws["name"], "/healthz"):
        t = time.time()
        r = c.get(path, timeout=10)
        assert r.status_code == 200 and time.time() - t < 5, (path, r.status_code)
    # A stream whose client went away gives its slot back.
    for s in opened:
        s.close()
    deadline, again = time.time() + 15, None
    while time.time() < deadline:
        again = Stream(base, "/api/v1/events", auth(ws["key"]))
        if again.status == 200:
            break
        again.close()
        time.sleep(0.5)
    assert again.status == 200
    again.close()
