"""Bounded storage: an upload refused part-way leaves nothing behind (no
artifact row, no chunk, no dataset), whether the CSV fails late or the bundle
is refused, measured in the database."""
import io
import tarfile


def stored(sql, ws):
    return sql(
        "SELECT (SELECT count(*) FROM artifacts a JOIN workspaces w ON w.id = a.workspace_id"
        "        WHERE w.name = :'p1'),"
        "       (SELECT count(*) FROM artifact_chunks c JOIN artifacts a ON a.id = c.artifact_id"
        "        JOIN workspaces w ON w.id = a.workspace_id WHERE w.name = :'p1'),"
        "       (SELECT count(*) FROM datasets d JOIN workspaces w ON w.id = d.workspace_id"
        "        WHERE w.name = :'p1'),"
        "       (SELECT count(*) FROM jobs j JOIN workspaces w ON w.id = j.workspace_id"
        "        WHERE w.name = :'p1')", ws)[0]


def test_csv_refused_after_many_chunks_leaves_nothing(make_workspace, sql):
    ws, key, client = make_workspace("reject")
    # ~3 MB of good rows (dozens of 64 KiB chunks already sent to PostgreSQL),
    # then a row with a column too many.
    good = "".join("%d,%d,label%d\n" % (i, i * 7 % 13, i % 3) for i in range(200000))
    body = "a,b,c\n" + good + "1,2,3,4\n"
    assert len(body) > 2 * 1024 * 1024
    r = client.post("/api/v1/datasets", params={"name": "bad"}, data=body.encode(),
                    headers={"Content-Type": "text/csv"}, timeout=300)
    assert r.status_code == 400, (r.status_code, r.text[:200])
    assert r.json() == {"detail": "line 200002: ragged row: 4 fields, expected 3"}
    assert stored(sql, ws) == ("0", "0", "0", "0")
    # The same workspace still takes a good upload (nothing half-open).
    ok = client.post("/api/v1/datasets", params={"name": "good"}, data=("a,b,c\n" + good).encode(),
                     headers={"Content-Type": "text/csv"}, timeout=300)
    assert ok.status_code == 201, ok.text[:200]
    assert stored(sql, ws)[0] == "1" and stored(sql, ws)[2] == "1"


def test_bundle_refused_leaves_nothing(make_workspace, sql):
    ws, key, client = make_workspace("rejectb")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"x" * (1024 * 1024)
        info = tarfile.TarInfo("data/big.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("evil")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    r = client.post("/train/%s" % ws, data=buf.getvalue(),
                    headers={"Content-Type": "application/gzip"}, timeout=120)
    assert r.status_code == 400, (r.status_code, r.text[:200])
    assert r.json() == {"error_code": "BAD_REQUEST",
                        "message": 'entry "evil": symbolic links are not allowed'}
    assert stored(sql, ws) == ("0", "0", "0", "0")
