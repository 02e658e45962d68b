// client.ts — a client typed by openapi-typescript from /openapi.json
// (out/api.d.ts) calling the stack through openapi-fetch. It is compiled by
// tsc --strict first: an answer typed `never`, a missing parameter or body
// schema, or a field renamed in the document fails the compile, not only the
// run. Usage (after tsc): node out/js/client.js BASE_URL API_KEY
// Prints one JSON object of what it saw; tests/e2e/test_openapi.py checks it.
import createClient from "openapi-fetch";
import type { paths } from "./out/api.js";

declare const process: { argv: string[]; exit(code: number): never };

const [baseUrl, key] = process.argv.slice(2);
const api = createClient<paths>({ baseUrl, headers: { "X-API-Key": key } });

function fail(what: string, detail: unknown): never {
  throw new Error(what + ": " + JSON.stringify(detail));
}

async function main() {
  const seen: Record<string, unknown> = {};

  const health = await api.GET("/healthz");
  if (!health.data) fail("healthz", health.error);
  seen.health = health.data.status; // "ok" | "unhealthy"

  // A CSV upload: the text/csv body, sent as it is.
  let csv = "x,z,y\n";
  for (let i = 0; i < 120; i++) csv += `${i},${(i * 7) % 11},${(i * 7) % 11 > 5 ? "yes" : "no"}\n`;
  const up = await api.POST("/api/v1/datasets", {
    params: { query: { name: "ts-client" } },
    body: csv,
    bodySerializer: (b: unknown) => b as string,
    headers: { "Content-Type": "text/csv" },
  });
  if (!up.data) fail("upload", up.error);
  seen.dataset_rows = up.data.rows;
  seen.dataset_fields = up.data.fields.map((f) => `${f.name}:${f.type}`);

  const list = await api.GET("/api/v1/datasets", { params: { query: { limit: 5 } } });
  if (!list.data) fail("list", list.error);
  seen.listed = list.data.datasets.length;

  // An error answer is typed by the dialect's error schema.
  const missing = await api.GET("/api/v1/datasets/{dataset_id}", {
    params: { path: { dataset_id: "00000000-0000-0000-0000-000000000000" } },
  });
  if (missing.data || !missing.error) fail("missing dataset", missing);
  seen.missing_status = missing.response.status;
  seen.missing_detail = "detail" in missing.error ? missing.error.detail : null;

  const bad = await api.POST("/api/v1/models/train/new", {
    body: { dataset_id: up.data.dataset_id, predict_fields: ["y"], duration: 7 as 10 },
  });
  if (bad.data || !bad.error) fail("bad duration", bad);
  seen.bad_status = bad.response.status;
  seen.bad_loc = Array.isArray(bad.error.detail) ? bad.error.detail[0].loc : null;

  const task = await api.POST("/api/v1/models/train/new", {
    body: { dataset_id: up.data.dataset_id, predict_fields: ["y"], duration: 10, force: true },
  });
  if (!task.data) fail("train", task.error);
  const taskId: string = task.data.task_id;

  let status = "";
  for (let i = 0; i < 20; i++) {
    const st = await api.GET("/api/v1/models/train/{task_id}/status", {
      params: { path: { task_id: taskId }, query: { wait: 30 } },
    });
    if (!st.data) fail("status", st.error);
    status = st.data.status;
    if (["SUCCEEDED", "FAILED", "UNKNOWN_TIMEOUT"].includes(status)) break;
  }
  seen.status = status;

  const result = await api.GET("/api/v1/models/train/{task_id}/result", {
    params: { path: { task_id: taskId } },
  });
  if (!result.data) fail("result", result.error);
  const modelId: string = result.data.model_id;

  const pred = await api.POST("/api/v1/models/{model_id}/predict", {
    params: { path: { model_id: modelId } },
    body: { data: [{ x: 3, z: 9 }, { x: 4, z: 1 }] },
  });
  if (!pred.data) fail("predict", pred.error);
  seen.predictions = pred.data.predictions.length;
  seen.prediction_keys = Object.keys(pred.data.predictions[0]).sort();

  const model = await api.GET("/api/v1/models/{model_id}", {
    params: { path: { model_id: modelId } },
  });
  if (!model.data) fail("model", model.error);
  seen.model_field = model.data.predict_field;

  // The Strapi collection: a document, the list with its parameters, the count.
  const doc = await api.POST("/trainings", {
    body: { uuid: "ts-" + taskId, accuracy: 0.5, version: "v1" },
  });
  if (!doc.data) fail("training", doc.error);
  const docs = await api.GET("/trainings", {
    params: { query: { _sort: "accuracy:DESC", _limit: 5 } },
  });
  if (!docs.data) fail("trainings", docs.error);
  const count = await api.GET("/trainings/count");
  if (count.data === undefined) fail("count", count.error);
  seen.training_id = doc.data.id;
  seen.trainings_listed = docs.data.length;
  seen.trainings_count = count.data;

  // KAOS: the workspace's jobs.
  const jobs = await api.GET("/train/{workspace}", {
    params: { path: { workspace: "dev" }, query: { page_id: 0 } },
  });
  if (!jobs.data) fail("jobs", jobs.error);
  seen.kaos_has_response = jobs.data.response !== undefined;

  const notFound = await api.GET("/trainings/{id}", { params: { path: { id: "999999999" } } });
  seen.strapi_404 = notFound.error && "code" in notFound.error ? notFound.error.code : null;

  console.log(JSON.stringify(seen));
}

main().catch((err) => {
  console.error(String(err));
  process.exit(1);
});
