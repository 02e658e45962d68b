#!/usr/bin/env bash
# http_events.sh — what live job events (GET /api/v1/events) cost, in
# figures beside their references from the same run:
#  - latency from a job's change (a progress write, as a trainer's
#    heartbeat makes it) to its event arriving through nginx, against the
#    stream's 1 s poll (expected: about half of it on average, never more);
#  - ordinary requests (GET /api/v1/datasets/{id}, wrk -t1 -c8) while as
#    many streams as workers are asked for (the pool admits its cap and
#    refuses the rest), against the same with none open: streams take their
#    workers and no more (the rest must keep serving).
set -euo pipefail
. "$(dirname "$0")/http_lib.sh"

ds=$(api_json POST "/api/v1/datasets?name=bench-events" -H 'Content-Type: text/csv' \
       --data-binary @"$BENCH_ROOT/examples/churn.csv" | json_get dataset_id)
# The bench stack's trainer is stopped: the job stays queued, and the
# benchmark plays the trainer's progress writes itself.
job=$(api_json POST /api/v1/models/train/new -H 'Content-Type: application/json' \
        -d "{\"dataset_id\":\"$ds\",\"predict_fields\":[\"churn\"],\"duration\":10,\"force\":true}" |
      json_get task_id)

read -r lat_med lat_p95 lat_max n_lat < <(BENCH_JOB=$job /usr/bin/python3 - <<'PY'
import http.client, json, os, subprocess, time, urllib.parse
u = urllib.parse.urlparse(os.environ["BENCH_URL"])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
c.request("GET", "/api/v1/events?job_id=" + os.environ["BENCH_JOB"],
          headers={"X-API-Key": os.environ["BENCH_KEY"]})
r = c.getresponse()
assert r.status == 200, r.status
def events():
    buf = b""
    while True:
        line = r.fp.readline()
        if not line:
            return
        if line == b"\n":
            ev, buf = buf, b""
            if b"event: job" in ev:
                yield json.loads(ev.split(b"data: ", 1)[1])
        else:
            buf += line
it = events()
next(it)  # the job as it is
lat = []
for i in range(1, 16):
    p = round(i / 20, 4)
    t = time.time()
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", os.environ["BENCH_DB_URL"], "-c",
                    "UPDATE jobs SET progress = %s, updated_at = now() WHERE id = '%s'"
                    % (p, os.environ["BENCH_JOB"])], check=True)
    for ev in it:
        if abs(ev["progress"] - p) < 1e-9:
            lat.append(time.time() - t)
            break
    time.sleep(0.37)  # out of step with the poll
lat.sort()
print("%.0f %.0f %.0f %d" % (1000 * lat[len(lat) // 2], 1000 * lat[int(len(lat) * 0.95) - 1],
                             1000 * lat[-1], len(lat)))
PY
)

# As many streams as the pool has processes, held open while wrk
# measures: the pool admits its cap and refuses the rest (503). The
# master's children are the workers and the parker (fcgi/park.h).
procs=$(api_workers | wc -l)
workers=$((procs - 1))
base=$(wrk_rate 8 "$BENCH_URL/api/v1/datasets/$ds")
codes=$(mktemp -d "$BENCH_VAR/events.XXXXXX")
for i in $(seq "$procs"); do
  curl -s -N -o /dev/null -w '%{http_code}\n' --max-time $((BENCH_SECONDS + 6)) \
       -H "X-API-Key: $BENCH_KEY" "$BENCH_URL/api/v1/events" > "$codes/$i" 2>/dev/null &
done
sleep 2
busy=$(wrk_rate 8 "$BENCH_URL/api/v1/datasets/$ds")
wait || true
cap=$(cat "$codes"/* | grep -c '^200$' || true)
refused=$(cat "$codes"/* | grep -c '^503$' || true)
rm -rf "$codes"

echo "Live job events (nginx -> pool of $workers workers; load $(cut -d' ' -f1-3 /proc/loadavg))"
row "change -> event, median ($n_lat changes)" "$lat_med" "ms" "reference: the 1000 ms poll ($(meets "$lat_med" '<=' 1000)); includes psql's start"
row "change -> event, p95 / max" "$lat_p95 / $lat_max" "ms" "target: p95 <= 1200 ms ($(meets "$lat_p95" '<=' 1200))"
row "streams admitted / refused (503)" "$cap / $refused" "streams" "of $procs asked, $workers workers (never all: $(meets "$cap" '<' "$workers"))"
row "GET /api/v1/datasets/{id}, no stream open" "$base" "req/s" "reference"
row "... with $cap streams open" "$busy" "req/s" "$(ratio "$busy" "$base")% of the reference ($((workers - cap)) of $workers workers left)"
figure events_latency_ms "$lat_med"
figure events_busy_ratio "$(ratio "$busy" "$base")"
