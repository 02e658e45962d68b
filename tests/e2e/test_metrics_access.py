"""Who may read /metrics (TRAINYARD_METRICS). nginx always passes 127.0.0.1
here, so these tests talk FastCGI to the API socket themselves, choosing the
client address: `local` (the default) refuses others; `key` (a second API pool
started for the test) wants a key and shows only that key's workspace."""
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import pytest


def fcgi_get(sock_path, path, remote_addr, headers=None):
    """One FastCGI GET (responder role); returns (status, body)."""
    def record(kind, content, req=1):
        return struct.pack("!BBHHBx", 1, kind, req, len(content), 0) + content

    def pair(k, v):
        k, v = k.encode(), v.encode()
        enc = lambda n: bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)
        return enc(len(k)) + enc(len(v)) + k + v

    params = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": path, "REQUEST_URI": path,
              "DOCUMENT_URI": path, "QUERY_STRING": "", "REMOTE_ADDR": remote_addr,
              "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_LENGTH": ""}
    for k, v in (headers or {}).items():
        params["HTTP_" + k.upper().replace("-", "_")] = v
    body = b"".join(pair(k, v) for k, v in params.items())
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(sock_path)
    s.sendall(record(1, struct.pack("!HB5x", 1, 0)) + record(4, body) + record(4, b"")
              + record(5, b""))
    out, buf = b"", b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 8:
            _, kind, _, clen, plen = struct.unpack("!BBHHB", buf[:7])
            if len(buf) < 8 + clen + plen:
                break
            if kind == 6:
                out += buf[8:8 + clen]
            buf = buf[8 + clen + plen:]
            if kind == 3:
                s.close()
                head, _, rest = out.partition(b"\r\n\r\n")
                m = re.search(rb"^Status: (\d+)", head, re.M)
                return (int(m.group(1)) if m else 200), rest.decode("utf-8", "replace")
    s.close()
    raise AssertionError("no FastCGI end of request")


def api_socket(stack):
    return stack.env["TRAINYARD_SOCKET"]


def test_local_mode_refuses_remote_clients(stack):
    status, body = fcgi_get(api_socket(stack), "/metrics", "203.0.113.9")
    assert status == 403, (status, body)
    assert "local" in body
    status, body = fcgi_get(api_socket(stack), "/metrics", "127.0.0.1")
    assert status == 200 and "trainyard_jobs{" in body


@pytest.fixture
def key_mode_api(stack):
    d = tempfile.mkdtemp(prefix="ty-metrics-")
    sock = os.path.join(d, "api.sock")
    env = stack.proc_env()
    env.update({"TRAINYARD_SOCKET": sock, "TRAINYARD_WORKERS": "1", "TRAINYARD_METRICS": "key"})
    env.pop("TRAINYARD_SOCKET_GROUP", None)
    p = subprocess.Popen([os.path.join(stack.build, "trainyard-api")], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    yield sock
    p.terminate()
    p.wait(timeout=20)
    shutil.rmtree(d, ignore_errors=True)


def test_key_mode_shows_the_keys_workspace_only(key_mode_api, make_workspace, sql):
    status, body = fcgi_get(key_mode_api, "/metrics", "127.0.0.1")
    assert status == 401, (status, body)
    ws, key, client = make_workspace("metrics")
    status, body = fcgi_get(key_mode_api, "/metrics", "203.0.113.9", {"X-API-Key": key})
    assert status == 200, (status, body)
    counts = {m.group(1): int(m.group(2)) for m in
              re.finditer(r'^trainyard_jobs\{state="(\w+)"\} (\d+)$', body, re.M)}
    assert counts and all(n == 0 for n in counts.values()), counts  # a new, empty workspace
    assert "this key's workspace" in body
    assert "trainer_last_seen" not in body
