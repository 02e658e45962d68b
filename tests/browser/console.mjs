// console.mjs — the web console driven end to end in Debian's headless
// chromium (puppeteer-core from web/node_modules; no browser download):
// error paths (a wrong key, a file that is not CSV), then sign in, upload
// examples/churn.csv, train at duration 10, watch progress reach 100%, open
// the model (leaderboard, confusion matrix, importance and ROC charts drawn),
// download it, predict one row from the generated form, and visit the jobs,
// trainings, workspace and /docs pages at laptop and phone widths. The job
// page's progress must arrive through EventSource (server-sent events, no
// polling), and the workspace picker must steer the /api/v1 pages too
// (SECOND_WS: another workspace of the key's account, holding a dataset
// named SECOND_DATASET).
// Screenshots of every page go to OUT_DIR. Exits non-zero on the first
// failed check, naming it.
//
//   BASE_URL=http://127.0.0.1:8080 API_KEY=... OUT_DIR=build/screenshots \
//     node tests/browser/console.mjs
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const require = createRequire(path.join(ROOT, 'web', 'package.json'));
const puppeteer = require('puppeteer-core');

const BASE = process.env.BASE_URL, KEY = process.env.API_KEY;
const SECOND_WS = process.env.SECOND_WS, SECOND_DATASET = process.env.SECOND_DATASET;
const OUT = path.resolve(process.env.OUT_DIR || path.join(ROOT, 'build', 'screenshots'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!BASE || !KEY) { console.error('console.mjs: BASE_URL and API_KEY are required'); process.exit(2); }
fs.mkdirSync(OUT, { recursive: true });
const DL = fs.mkdtempSync(path.join(os.tmpdir(), 'trainyard-dl-'));

let step = 'start';
const t0 = Date.now();
const log = msg => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
function check(cond, what) { if (!cond) throw new Error(`check failed: ${what}`); }
async function shot(page, name) {
  await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
  log(`screenshot ${name}.png`);
}
const text = (page, sel) => page.$eval(sel, el => el.textContent);
async function waitText(page, sel, re, timeout) {
  await page.waitForFunction((s, src) => { const el = document.querySelector(s); return el && new RegExp(src).test(el.textContent); },
    { timeout: timeout || 15000 }, sel, re.source);
  return text(page, sel);
}
// Every form control has an accessible name (a <label for>, a wrapping
// label or aria-label): the accessibility rule the console keeps.
async function unlabelled(page) {
  return page.$$eval('input:not([type=hidden]), select, textarea', els => els.filter(e =>
    !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')).map(e => e.outerHTML.slice(0, 80)));
}
async function noHorizontalScroll(page, what) {
  const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(sw <= w + 1, `${what}: the page is ${sw}px wide in a ${w}px viewport (horizontal scroll)`);
}

const browser = await puppeteer.launch({
  executablePath: CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--lang=en-US'],
});
const failures = [];
// A spec bundle (KAOS dialect) queued first, so that it trains while the
// console's own training runs: the Workspace jobs page then has a job with
// a model to list.
async function queueBundle() {
  const hdr = { 'X-API-Key': KEY };
  const ws = (await (await fetch(BASE + '/workspace', { headers: hdr })).json()).response;
  const name = ws.workspaces.find(w => w.default).name;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainyard-bundle-'));
  fs.mkdirSync(path.join(dir, 'data'));
  fs.copyFileSync(path.join(ROOT, 'examples', 'churn.csv'), path.join(dir, 'data', 'train.csv'));
  fs.writeFileSync(path.join(dir, 'trainyard.json'), JSON.stringify({ dataset: 'data/train.csv', predict_fields: ['churn'], duration: 10 }));
  const tgz = execFileSync('tar', ['-czf', '-', '-C', dir, 'trainyard.json', 'data']);
  fs.rmSync(dir, { recursive: true, force: true });
  const r = await fetch(`${BASE}/train/${encodeURIComponent(name)}?user=browser`, { method: 'POST',
    headers: { ...hdr, 'Content-Type': 'application/gzip' }, body: tgz });
  const doc = await r.json();
  if (r.status >= 300) throw new Error(`bundle refused: ${JSON.stringify(doc)}`);
  return JSON.stringify(doc).match(/[0-9a-f]{8}-[0-9a-f-]{27}/)[0];
}
try {
  step = 'queue a bundle';
  const bundleJob = await queueBundle();
  log(`bundle job ${bundleJob}`);

  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const consoleErrors = [];
  page.on('pageerror', e => consoleErrors.push(String(e)));
  // (A 503 on the event stream is the pool saying all its stream slots are
  // taken: the console polls then, by design.)
  page.on('console', m => {
    if (m.type() !== 'error' || /status of (4\d\d)/.test(m.text())) return;
    if (/status of 503/.test(m.text()) && /\/api\/v1\/events/.test((m.location() || {}).url || '')) { sseRefused++; return; }
    consoleErrors.push(m.text());
  });
  let sseRefused = 0;
  // Nothing may be fetched from another origin (no CDN).
  const foreign = [];
  page.on('request', r => { if (!r.url().startsWith(BASE) && !/^(data|blob):/.test(r.url())) foreign.push(r.url()); });
  // Every EventSource the console opens is counted, with the events it
  // delivers by type: the proof that progress arrives by server-sent events.
  await page.evaluateOnNewDocument(() => {
    const Native = window.EventSource;
    window.__sse = { opened: 0, job: 0, log: 0, end: 0, progress: [] };
    window.EventSource = class extends Native {
      constructor(url, init) {
        super(url, init);
        this.addEventListener('open', () => { window.__sse.opened++; });
        for (const t of ['job', 'log', 'end']) this.addEventListener(t, ev => {
          window.__sse[t]++;
          if (t === 'job') window.__sse.progress.push(JSON.parse(ev.data).progress);
        });
      }
    };
  });
  // Polling requests the job page would make without its stream.
  let logPolls = 0;
  page.on('request', r => { if (/\/train\/[^/]+\/[0-9a-f-]{36}\/logs\?/.test(r.url())) logPolls++; });
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: DL });

  step = 'sign-in page';
  await page.goto(BASE + '/', { waitUntil: 'networkidle0' });
  await page.waitForSelector('#api-key');
  check((await unlabelled(page)).length === 0, 'sign-in controls are labelled');
  await shot(page, '01-sign-in');

  step = 'wrong key';
  await page.type('#api-key', 'ty_000000000000_not-a-real-key');
  await page.keyboard.press('Enter'); // the form submits from the keyboard
  const refused = await waitText(page, '#signin-error', /refused/);
  check(/invalid or revoked/.test(refused), `the wrong key's message carries the API's reason: ${refused}`);
  check(await page.evaluate(() => sessionStorage.getItem('trainyard.key') === null), 'a refused key is not kept');
  await shot(page, '02-wrong-key');

  step = 'sign in';
  await page.$eval('#api-key', el => { el.value = ''; });
  await page.type('#api-key', KEY);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#drop-zone');
  check(await page.evaluate(k => sessionStorage.getItem('trainyard.key') === k, KEY), 'the key is in session storage');
  const wsOptions = await page.$$eval('#ws-picker option', os => os.map(o => o.value));
  check(wsOptions.length >= 1, 'the workspace picker lists the account\'s workspaces');
  check(await page.$eval('#drop-zone', el => el.tabIndex === 0 && el.getAttribute('role') === 'button'), 'the drop zone is keyboard-reachable');

  step = 'wrong file type (dropped)';
  // Dropped on the drop zone, as a user drags a file from their desktop: a
  // PNG's bytes, which the server's CSV check refuses.
  await page.evaluate(() => {
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 7, 7, 7]);
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'picture.png', { type: 'image/png' }));
    const zone = document.getElementById('drop-zone');
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  const notCsv = await waitText(page, '#main .error', /not accepted/);
  check(/picture\.png/.test(notCsv) && /HTTP 4\d\d/.test(notCsv), `the refusal names the file and the status: ${notCsv}`);
  await shot(page, '03-wrong-file-type');

  step = 'upload churn.csv';
  await page.$eval('#upload-name', el => { el.value = ''; });
  await page.type('#upload-name', 'churn-browser');
  await (await page.$('#upload-file')).uploadFile(path.join(ROOT, 'examples', 'churn.csv'));
  await page.waitForFunction(() => /^#\/datasets\/[0-9a-f-]{36}$/.test(location.hash), { timeout: 30000 });
  await page.waitForSelector('#main table');
  const schema = await page.$$eval('#main table', ts => ts[0].innerText);
  check(/churn\s+boolean/.test(schema) && /total_charges\s+number\s+2/.test(schema), 'the inferred schema shows types and missing counts');
  check(/contract\s+category\s+0\s+3/.test(schema), `the schema shows distinct counts: ${schema.slice(0, 400)}`);
  // The preview is a second request, drawn after the schema: wait for it.
  await page.waitForFunction(() => document.querySelectorAll('#main table').length > 1, { timeout: 30000 })
    .catch(() => {});
  const preview = await page.$$eval('#main table', ts => ts.length > 1 ? ts[1].innerText : '');
  check(/First 20 of 500 rows/.test(preview) && /Mailed check/.test(preview), 'the preview shows the first rows (served by the API)');
  await shot(page, '04-dataset');

  step = 'train form';
  await page.click('a[href^="#/train/"]');
  await page.waitForSelector('input[name=target][value=churn]');
  await page.click('input[name=target][value=churn]');
  check(/churn: binary/.test(await text(page, '#task-hint')), 'the form says which task the target gives');
  check(await page.$eval('input[name=ignore][value=churn]', el => el.disabled), 'the target cannot also be ignored');
  await page.select('#duration', '10');
  check((await unlabelled(page)).length === 0, 'train form controls are labelled: ' + (await unlabelled(page)).join(' '));
  await shot(page, '05-train');
  await page.click('#main form button[type=submit]');

  step = 'job progress';
  await page.waitForFunction(() => /^#\/jobs\/[0-9a-f-]{36}$/.test(location.hash), { timeout: 15000 });
  await page.waitForSelector('#job-logs');
  const pollsBefore = logPolls;
  const seen = new Set();
  const deadline = Date.now() + 150000;
  let midShot = false;
  for (;;) {
    const v = await page.$eval('#main progress', p => p.value).catch(() => null);
    if (v != null) seen.add(v);
    if (v != null && v > 0 && v < 100 && !midShot) { await shot(page, '06-job-running'); midShot = true; }
    if (await page.$('#open-model')) break;
    const st = await page.$eval('#job-announce', e => e.textContent).catch(() => '');
    check(!/failed|killed|timed_out/.test(st), `the job ended badly: ${st}`);
    check(Date.now() < deadline, 'the job finished within 150 s');
    await new Promise(r => setTimeout(r, 300));
  }
  const final = await page.$eval('#main progress', p => p.value);
  check(final === 100, `progress reached 100% (saw ${[...seen].sort((a, b) => a - b).join(', ')})`);
  check(/succeeded/.test(await text(page, '#job-announce')), 'the job is announced as succeeded');
  check((await text(page, '#job-logs')).length > 0, 'the log tail shows the trainer\'s lines');
  log(`progress values seen: ${[...seen].sort((a, b) => a - b).join(', ')}`);
  const sse = await page.evaluate(() => window.__sse);
  log(`server-sent events: ${JSON.stringify({ ...sse, progress: sse.progress.length })}; log polls ${logPolls - pollsBefore}`);
  check(sse.opened >= 1 && sse.job >= 2, `the job page followed the job by EventSource (${JSON.stringify(sse)})`);
  check(sse.progress.some(p => p > 0 && p < 1), 'progress between 0 and 100% arrived as an event');
  check(sse.log >= 1, 'log lines arrived as events');
  check(logPolls - pollsBefore <= 1, `the job page did not poll while its stream was open (${logPolls - pollsBefore} log requests)`);
  await shot(page, '07-job-done');

  step = 'model page';
  await page.click('#open-model');
  await page.waitForSelector('#confusion-matrix');
  // One chosen candidate, or the members of a chosen blend (ml/search.c).
  const lb = await page.$$eval('tr.chosen', rs => rs.map(r => r.innerText));
  const why = await text(page, '#chosen-0');
  if (/Chosen: a blend/.test(why)) {
    check(lb.length >= 1 && lb.every(r => /in the blend/.test(r)), `the leaderboard marks the blend's members: ${lb}`);
    check(/Why: a weighted blend/.test(why), `the page says why the blend was chosen: ${why}`);
  } else {
    check(lb.length === 1 && /chosen/.test(lb[0]), 'the leaderboard marks exactly one chosen candidate');
    check(/Why: (best validation auc|the linear model's validation auc .* is within)/.test(why), `the page says why the model was chosen: ${why}`);
  }
  const cm = await page.$$eval('#confusion-matrix tbody td', tds => tds.map(t => Number(t.textContent.replace(/,/g, ''))));
  check(cm.length === 4 && cm.every(Number.isFinite) && cm.reduce((a, b) => a + b, 0) > 0, `the confusion matrix is 2x2 with counts: ${cm}`);
  // Charts drawn: Chart.js holds data for each canvas and the canvas has ink.
  for (const id of ['importance-0', 'roc-0', 'pr-0']) {
    const drawn = await page.$eval(`#${id} canvas`, c => {
      const ch = window.Chart && window.Chart.getChart(c);
      const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let ink = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i] > 0) ink++;
      return { points: ch ? ch.data.datasets[0].data.length : 0, ink, label: c.getAttribute('aria-label') };
    });
    check(drawn.points > 1 && drawn.ink > 500, `${id} is drawn (${JSON.stringify(drawn)})`);
    check(drawn.label && drawn.label.length > 10, `${id} has a text alternative`);
  }
  check(/is (No|Yes) most often when/.test(await page.$eval('.story', e => e.textContent)), 'the data story reads as sentences');
  await shot(page, '08-model');
  // The charts at laptop size, as the README shows them.
  await page.$eval('#confusion-matrix', el => el.closest('.grid').scrollIntoView());
  await page.screenshot({ path: path.join(OUT, '08-model-charts.png') });

  step = 'download';
  await page.click('#download-0');
  let file = null;
  for (let i = 0; i < 100 && !file; i++) {
    file = fs.readdirSync(DL).find(f => f.endsWith('.tar.gz'));
    if (!file) await new Promise(r => setTimeout(r, 100));
  }
  check(file, 'the model downloads as a .tar.gz');
  const buf = fs.readFileSync(path.join(DL, file));
  const tar = zlib.gunzipSync(buf);
  check(tar.includes(Buffer.from('model.ubj')) && tar.includes(Buffer.from('preprocess.json')), 'the archive holds model.ubj and preprocess.json');
  log(`downloaded ${file} (${buf.length} bytes)`);

  step = 'predict one row';
  await page.click('a[href^="#/predict/"]');
  await page.waitForSelector('#predict-form');
  check((await unlabelled(page)).length === 0, 'predict form controls are labelled');
  const levels = await page.$$eval('#f-contract option', os => os.map(o => o.value));
  check(levels.includes('Month-to-month') && levels.includes('Two year'), 'category fields are selects of known levels');
  await page.select('#f-contract', 'Month-to-month');
  await page.select('#f-internet_service', 'Fiber optic');
  await page.type('#f-tenure', '2');
  await page.type('#f-monthly_charges', '95');
  await page.click('#predict-form button[type=submit]');
  const pred = await waitText(page, '#prediction-value', /^(Yes|No)$/);
  const probs = await page.$eval('#prediction table', t => t.innerText);
  check(/Yes\s+0\.\d{3}/.test(probs) && /No\s+0\.\d{3}/.test(probs), 'class probabilities are shown');
  check(/tenure|contract/.test(await page.$eval('#prediction', e => e.innerText)), 'the row\'s explanation is shown');
  log(`prediction: ${pred}`);
  await shot(page, '09-predict');

  step = 'batch predict';
  const batchIn = path.join(DL, 'batch.csv');
  fs.writeFileSync(batchIn, fs.readFileSync(path.join(ROOT, 'examples', 'churn.csv'), 'utf8').split('\n').slice(0, 31).join('\n') + '\n');
  await (await page.$('#batch-file')).uploadFile(batchIn);
  let out = null;
  for (let i = 0; i < 150 && !out; i++) {
    out = fs.readdirSync(DL).find(f => f === 'batch-predictions.csv');
    if (!out) await new Promise(r => setTimeout(r, 100));
  }
  check(out, 'the batch predictions download as CSV');
  const lines = fs.readFileSync(path.join(DL, out), 'utf8').trim().split(/\r?\n/);
  check(lines.length === 31 && /Probability churn is Yes/.test(lines[0]), `30 rows + header with probabilities (${lines.length} lines)`);

  step = 'kill a job';
  // A 60-second training queued through the API, killed from its page.
  const dsId = await page.evaluate(async k => {
    const r = await fetch('/api/v1/datasets?limit=1', { headers: { 'X-API-Key': k } });
    return (await r.json()).datasets[0].dataset_id;
  }, KEY);
  const victim = await page.evaluate(async (k, ds) => {
    const r = await fetch('/api/v1/models/train/new', { method: 'POST', headers: { 'X-API-Key': k, 'Content-Type': 'application/json' },
      body: JSON.stringify({ dataset_id: ds, predict_fields: ['contract'], duration: 60, force: true }) });
    return (await r.json()).task_id;
  }, KEY, dsId);
  await page.goto(`${BASE}/#/jobs/${victim}`, { waitUntil: 'networkidle2' });
  await page.waitForSelector('#kill');
  await page.click('#kill');
  await waitText(page, '#job-announce', /killed/, 60000);
  check(!(await page.$('#kill')), 'a finished job has no kill button');

  step = 'jobs page';
  await page.goto(BASE + '/#/jobs', { waitUntil: 'networkidle2' });
  await page.waitForSelector('#main table');
  check(/succeeded/.test(await page.$eval('#main table', t => t.innerText)), 'the jobs table lists the finished job');
  await shot(page, '10-jobs');

  step = 'trainings and workspace pages';
  const uuidDoc = `browser-${Date.now()}`;
  const created = await page.evaluate(async (k, u) => (await fetch('/trainings', { method: 'POST',
    headers: { 'X-API-Key': k, 'Content-Type': 'application/json' },
    body: JSON.stringify({ uuid: u, accuracy: 0.875, version: 'v-browser', meta: 'from the browser test' }) })).status, KEY, uuidDoc);
  check(created === 200, `a /trainings document was created (${created})`);
  await page.goto(BASE + '/#/trainings', { waitUntil: 'networkidle2' });
  await page.waitForSelector('#main table');
  const tr = await page.$eval('#main table', t => t.innerText);
  check(tr.includes(uuidDoc) && /0\.8750/.test(tr) && tr.includes('v-browser'), 'the trainings table shows the document');
  await shot(page, '11-trainings');
  await page.goto(BASE + '/#/workspace', { waitUntil: 'networkidle2' });
  await page.waitForSelector('#main h1');
  check(/Workspace jobs/.test(await text(page, '#main h1')), 'the workspace page renders');
  check((await page.$eval('#main', e => e.innerText)).includes(bundleJob.slice(0, 8)), 'the bundle job is listed');
  // Wait for the bundle's training (it ran beside ours), then its models.
  for (let i = 0; ; i++) {
    const st = await page.evaluate(async (k, id) => {
      const r = await fetch('/train/' + encodeURIComponent(sessionStorage.getItem('trainyard.ws')) + '/' + id, { headers: { 'X-API-Key': k } });
      return (await r.json()).response.state;
    }, KEY, bundleJob);
    if (st === 'succeeded') break;
    check(!/failed|killed|timed_out/.test(st) && i < 150, `the bundle job finished (state ${st})`);
    await new Promise(r => setTimeout(r, 1000));
  }
  await page.reload({ waitUntil: 'networkidle2' });
  await page.waitForSelector(`#models-${bundleJob}`);
  await page.click(`#models-${bundleJob}`);
  await waitText(page, '#main', /Models of job/);
  check(/binary/.test(await page.$eval('#main', e => e.innerText)), 'the bundle job\'s model is listed with its task');
  await shot(page, '12-workspace');

  step = 'phone width';
  await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
  const modelHash = await page.evaluate(() => document.querySelector('a[href^="#/models/"]') && document.querySelector('a[href^="#/models/"]').getAttribute('href'));
  await page.goto(BASE + '/#/jobs', { waitUntil: 'networkidle2' });
  await page.waitForSelector('a[href^="#/models/"]');
  await page.click('a[href^="#/models/"]');
  await page.waitForSelector('#importance-0 canvas');
  await noHorizontalScroll(page, 'model page on a phone');
  await shot(page, '13-model-phone');
  await page.goto(BASE + '/#/datasets', { waitUntil: 'networkidle2' });
  await page.waitForSelector('#drop-zone');
  await noHorizontalScroll(page, 'datasets page on a phone');
  await shot(page, '14-datasets-phone');
  void modelHash;

  step = 'delete a dataset';
  await page.setViewport({ width: 1280, height: 900 });
  const doomed = await page.evaluate(async k => (await (await fetch('/api/v1/datasets?name=doomed', { method: 'POST',
    headers: { 'X-API-Key': k, 'Content-Type': 'text/csv' }, body: 'a,b\n1,x\n2,y\n' })).json()).dataset_id, KEY);
  await page.goto(`${BASE}/#/datasets/${doomed}`, { waitUntil: 'networkidle2' });
  await page.waitForSelector('button.danger');
  page.once('dialog', d => d.accept()); // the "Delete dataset doomed?" confirmation
  await page.click('button.danger');
  await page.waitForFunction(() => location.hash === '#/datasets', { timeout: 15000 });
  await page.waitForSelector('#main table');
  check(!(await page.$eval('#main', e => e.innerText)).includes('doomed'), 'the deleted dataset is gone from the list');
  const gone = await page.evaluate(async (k, id) => (await fetch('/api/v1/datasets/' + id, { headers: { 'X-API-Key': k } })).status, KEY, doomed);
  check(gone === 404, `the deleted dataset answers 404 (${gone})`);

  step = 'workspace picker';
  if (SECOND_WS) {
    // The picker steers the /api/v1 pages (datasets here) through
    // X-Trainyard-Workspace, not only the KAOS pages.
    await page.goto(BASE + '/#/datasets', { waitUntil: 'networkidle2' });
    await page.waitForSelector('#drop-zone');
    const own = await page.$eval('#main', e => e.innerText);
    check(own.includes('churn') && !own.includes(SECOND_DATASET), 'the key\'s own workspace lists its datasets only');
    await page.select('#ws-picker', SECOND_WS);
    await waitText(page, '#main', new RegExp(SECOND_DATASET), 15000);
    const picked = await page.$eval('#main', e => e.innerText);
    check(!/\bchurn\b/.test(picked.replace(SECOND_DATASET, '')), `the picked workspace shows none of the other's datasets: ${picked.slice(0, 300)}`);
    check(/ws-note/.test(await page.$eval('#main', e => e.innerHTML)), 'the page says it is not the key\'s own workspace');
    await shot(page, '15-picked-workspace');
    const def = wsOptions[0];
    await page.select('#ws-picker', def);
    await waitText(page, '#main', /churn/, 15000);
  }

  step = 'API reference';
  await page.goto(BASE + '/docs', { waitUntil: 'networkidle0' });
  await page.waitForSelector('.swagger-ui .info .title', { timeout: 30000 });
  const ops = await page.$$eval('.opblock', os => os.length);
  check(ops > 10, `Swagger UI lists the API's operations (${ops})`);
  await shot(page, '16-docs');

  step = 'session';
  check(foreign.length === 0, `nothing was fetched from another origin: ${foreign.join(' ')}`);
  check(consoleErrors.length === 0, `no script errors: ${consoleErrors.join(' | ')}`);
  log(`event streams refused by the pool's cap (the page polled meanwhile): ${sseRefused}`);
} catch (e) {
  failures.push(`${step}: ${e.message}`);
} finally {
  await browser.close();
  fs.rmSync(DL, { recursive: true, force: true });
}
if (failures.length) {
  console.error(`console.mjs: FAILED at ${failures.join('; ')}`);
  console.error(`(screenshots so far in ${OUT})`);
  process.exit(1);
}
log(`console.mjs: every check passed; screenshots in ${OUT}`);
