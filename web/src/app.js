// app.js — the trainyard web console: one page, hash-routed, talking to the
// same-origin API with the key kept in this tab's session storage (sent as
// X-API-Key; a closed tab forgets it), and the workspace picker's choice sent
// as X-Trainyard-Workspace on every request, so that every page (datasets,
// models, trainings and jobs alike) shows the chosen workspace. Jobs and a
// job's page follow live changes by server-sent events (GET /api/v1/events,
// EventSource with a ticket), and poll when the pool refuses a stream.
// Every view reads the API's documents
// as they are (the result document carries the chart data, models[].charts)
// so the console holds no state the server does not. Charts: Chart.js; CSV
// parsing for batch predictions: Papa Parse (both vendored by
// web/build.sh from pinned npm packages).
'use strict';

const KEY = 'trainyard.key', WS = 'trainyard.ws';
const DURATIONS = [10, 60, 300, 1800];
const state = { key: sessionStorage.getItem(KEY), workspaces: [], ws: sessionStorage.getItem(WS),
                defaultWs: null, timers: [], charts: [] };
const $ = (sel, root) => (root || document).querySelector(sel);

// --- DOM helpers: elements are built, never concatenated from strings, so
// a field name or a value from a dataset can never become markup.
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) {
    if (kid == null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
function table(headers, rows, opts) {
  const head = h('tr', {}, headers.map(c => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label || c)));
  const body = rows.map(r => {
    const tr = h('tr', { class: r.cls || null });
    r.cells.forEach((c, i) => tr.append(i === 0 && !(opts && opts.plain)
      ? h('th', { scope: 'row' }, c) : h('td', { class: headers[i].num ? 'num' : null }, c)));
    return tr;
  });
  return h('div', { class: 'table-wrap' }, h('table', {}, opts && opts.caption ? h('caption', { class: 'muted' }, opts.caption) : null,
    h('thead', {}, head), h('tbody', {}, body)));
}
const fmt = (v, d) => v == null || Number.isNaN(v) ? '—' : typeof v === 'number'
  ? (Number.isInteger(v) ? v.toLocaleString('en') : v.toFixed(d == null ? 4 : d)) : String(v);
const secs = s => s == null || !isFinite(s) ? '—' : s < 90 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
const bytes = n => n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : n < 1073741824
  ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1073741824).toFixed(2)} GiB`;
function toast(msg) { const t = $('#toast'); t.textContent = msg; setTimeout(() => { if (t.textContent === msg) t.textContent = ''; }, 4000); }

// --- the API. Errors of every dialect are read into one message: Akkio's
// {"detail": str | [{loc,msg}]}, the workspace's {"error_code","message"},
// Strapi's {"code","message"}, Akkio v1's {"status","message","field"}.
class ApiError extends Error { constructor(status, msg) { super(msg); this.status = status; } }
function errorText(status, doc, raw) {
  if (doc && Array.isArray(doc.detail))
    return doc.detail.map(d => `${(d.loc || []).filter(x => x !== 'body').join('.') || 'request'}: ${d.msg}`).join('; ');
  if (doc && typeof doc.detail === 'string') return doc.detail;
  if (doc && doc.message) return (doc.error_code ? doc.error_code + ': ' : '') + doc.message;
  return raw ? raw.slice(0, 300) : `HTTP ${status}`;
}
const wsHeader = () => (state.ws ? { 'X-Trainyard-Workspace': state.ws } : {});
async function api(method, path, body, opts) {
  const headers = { 'X-API-Key': state.key, ...(opts && opts.noWs ? {} : wsHeader()), ...((opts && opts.headers) || {}) };
  let payload = body;
  if (body != null && !(body instanceof Blob) && typeof body !== 'string') {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const r = await fetch(path, { method, headers, body: payload });
  if (opts && opts.blob && r.ok) return r;
  const raw = await r.text();
  let doc = null;
  try { doc = raw ? JSON.parse(raw) : null; } catch (e) { doc = null; }
  if (!r.ok) throw new ApiError(r.status, `${errorText(r.status, doc, raw)} (HTTP ${r.status})`);
  return doc;
}
const wsPath = (...p) => `/train/${encodeURIComponent(state.ws)}` + p.map(x => '/' + encodeURIComponent(x)).join('');
const unwrap = doc => (doc && doc.response !== undefined ? doc.response : doc);

// --- routing: #/section/id. Leaving a view stops its pollers and charts.
const routes = [
  [/^#\/datasets\/([^/]+)$/, viewDataset], [/^#\/datasets$/, viewDatasets],
  [/^#\/train\/([^/]+)$/, viewTrain], [/^#\/jobs\/([^/]+)$/, viewJob], [/^#\/jobs$/, viewJobs],
  [/^#\/models\/([^/]+)$/, viewModel], [/^#\/predict\/([^/]+)$/, viewPredict],
  [/^#\/trainings$/, viewTrainings], [/^#\/workspace$/, viewWorkspace],
];
function every(ms, fn) { const id = setInterval(fn, ms); state.timers.push(id); return id; }
// Live updates: an EventSource on GET /api/v1/events (job_id: one job with
// its log lines). EventSource cannot send headers, so it carries a ticket
// minted for this key and the picked workspace. A stream ends after ~25 s
// and the browser reconnects by itself (Last-Event-ID resumes it). When the
// server refuses a stream (503: every stream slot of the pool is taken) or
// the ticket has expired, the page polls (startPolling returns its timer)
// and tries a fresh stream again after the 10 s the server's Retry-After
// asks for; once one opens, the polling stops. Returns a stop().
const sources = [];
function liveEvents(params, handlers, startPolling) {
  let es = null, stopped = false, poll = null, retry = null;
  const status = (text, mode) => { const l = $('#live-status'); if (l) { l.textContent = text; l.dataset.live = mode; } };
  async function open() {
    retry = null;
    let t;
    try { t = await api('POST', '/api/v1/events/ticket'); } catch (e) { return fallback(); }
    if (stopped) return;
    es = new EventSource(`/api/v1/events?${new URLSearchParams({ ...params, ticket: t.ticket })}`);
    for (const [name, fn] of Object.entries(handlers))
      es.addEventListener(name, ev => { if (stopped) return; try { fn(JSON.parse(ev.data)); } catch (e) { /* a bad event is skipped */ } });
    es.onopen = () => {
      if (poll != null) { clearInterval(poll); poll = null; }
      status('Live: updates arrive as they happen (server-sent events).', 'events');
    };
    es.onerror = () => { if (es.readyState === EventSource.CLOSED) fallback(); };
  }
  function fallback() {
    if (es) es.close();
    if (stopped) return;
    if (poll == null) { poll = startPolling(); status('Live updates unavailable for now: refreshing periodically.', 'polling'); }
    retry = setTimeout(open, 10000);
  }
  const stop = () => { stopped = true; if (es) es.close(); if (retry) clearTimeout(retry); };
  sources.push(stop);
  open();
  return stop;
}
function liveStatus() { return h('p', { class: 'muted', id: 'live-status', 'data-live': 'starting' }, 'Connecting for live updates…'); }
function stopAll() {
  sources.splice(0).forEach(stop => stop());
  state.timers.forEach(clearInterval); state.timers = [];
  state.charts.forEach(c => c.destroy()); state.charts = [];
}
async function route() {
  stopAll();
  const main = $('#main');
  if (!state.key) return viewSignIn(main);
  const hash = location.hash || '#/datasets';
  document.querySelectorAll('#nav a').forEach(a => {
    if (hash.startsWith(a.getAttribute('href'))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  main.replaceChildren();
  for (const [re, view] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    try { await view(main, ...m.slice(1).map(decodeURIComponent)); }
    catch (e) { main.append(h('p', { class: 'error', role: 'alert' }, e.message)); }
    main.focus({ preventScroll: true });
    return;
  }
  location.hash = '#/datasets';
}

// --- sign in: the key is checked with GET /workspace (any valid key may
// list its account's workspaces) before it is kept.
function viewSignIn(main) {
  $('#nav').hidden = true; $('#session').hidden = true;
  const err = h('p', { class: 'error', role: 'alert', id: 'signin-error' });
  const input = h('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', required: true,
    'aria-describedby': 'key-help signin-error' });
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title', onsubmit: async ev => {
    ev.preventDefault();
    err.textContent = '';
    state.key = input.value.trim();
    try { await loadWorkspaces(); }
    catch (e) {
      state.key = null;
      err.textContent = e.status === 401 || e.status === 403
        ? `That key was refused: ${e.message}. Check it, or ask for a new one with "trainyard key create".`
        : e.message;
      input.focus();
      return;
    }
    sessionStorage.setItem(KEY, state.key);
    route();
  } },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('div', { class: 'row' }, h('label', { for: 'api-key' }, 'API key'), input,
      h('small', { id: 'key-help', class: 'muted' }, 'Kept in this tab only (session storage) and sent as X-API-Key.')),
    err, h('button', { type: 'submit' }, 'Sign in'));
  main.replaceChildren(form);
  input.focus();
}
async function loadWorkspaces() {
  // Asked without a workspace header: "current" is then the key's own.
  const doc = unwrap(await api('GET', '/workspace', null, { noWs: true }));
  state.workspaces = doc.names || [];
  const def = (doc.workspaces || []).find(w => w.default);
  state.defaultWs = doc.current || (def ? def.name : state.workspaces[0]);
  if (!state.ws || !state.workspaces.includes(state.ws)) state.ws = state.defaultWs;
  sessionStorage.setItem(WS, state.ws);
  const pick = $('#ws-picker');
  pick.replaceChildren(...state.workspaces.map(n => h('option', { value: n, selected: n === state.ws },
    n === state.defaultWs ? `${n} (key's own)` : n)));
  pick.disabled = !!doc.workspace_only || state.workspaces.length < 2;
  $('#nav').hidden = false; $('#session').hidden = false;
}

// --- datasets -------------------------------------------------------------
// Every page acts in the picked workspace (X-Trainyard-Workspace); said
// when it is not the key's own, so nobody looks in the wrong place.
function keyWorkspaceNote() {
  return state.ws !== state.defaultWs
    ? h('p', { class: 'muted', id: 'ws-note' }, `Workspace ${state.ws} (this key's own is ${state.defaultWs}).`)
    : null;
}
async function viewDatasets(main) {
  main.append(h('h1', {}, 'Datasets'), keyWorkspaceNote() || '');
  const err = h('p', { class: 'error', role: 'alert' });
  const bar = h('progress', { max: 100, value: 0, id: 'upload-progress', 'aria-label': 'Upload progress' });
  const status = h('p', { class: 'muted', 'aria-live': 'polite', id: 'upload-status' }, 'No upload yet.');
  const file = h('input', { type: 'file', id: 'upload-file', accept: '.csv,text/csv', class: 'visually-hidden' });
  const name = h('input', { id: 'upload-name', placeholder: 'defaults to the file name' });
  const drop = h('div', { class: 'drop', tabindex: 0, role: 'button', id: 'drop-zone',
    'aria-describedby': 'upload-status',
    onclick: () => file.click(), onkeydown: ev => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); file.click(); } },
    ondragover: ev => { ev.preventDefault(); drop.classList.add('over'); },
    ondragleave: () => drop.classList.remove('over'),
    ondrop: ev => { ev.preventDefault(); drop.classList.remove('over'); if (ev.dataTransfer.files[0]) upload(ev.dataTransfer.files[0]); } },
    h('strong', {}, 'Drop a CSV file here'), h('br'), h('span', { class: 'muted' }, 'or press Enter to choose one'));
  file.addEventListener('change', () => file.files[0] && upload(file.files[0]));
  // The file goes as the raw request body (text/csv): the browser streams it
  // from disk, nginx spools it, the API stores it chunk by chunk — a 1 GB
  // file never sits whole in any process's memory, this page's included.
  function upload(f) {
    err.textContent = '';
    const n = name.value.trim() || f.name.replace(/\.[^.]*$/, '');
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/datasets?name=${encodeURIComponent(n)}`);
    xhr.setRequestHeader('X-API-Key', state.key);
    if (state.ws) xhr.setRequestHeader('X-Trainyard-Workspace', state.ws);
    xhr.setRequestHeader('Content-Type', 'text/csv');
    const t0 = performance.now();
    xhr.upload.onprogress = ev => {
      if (!ev.lengthComputable) return;
      bar.value = Math.round(100 * ev.loaded / ev.total);
      const rate = ev.loaded / Math.max(0.001, (performance.now() - t0) / 1000);
      status.textContent = `Uploading ${f.name}: ${bytes(ev.loaded)} of ${bytes(ev.total)} (${bytes(rate)}/s)`;
    };
    xhr.onload = () => {
      let doc = null;
      try { doc = JSON.parse(xhr.responseText); } catch (e) { doc = null; }
      if (xhr.status !== 201 && xhr.status !== 200) {
        bar.value = 0;
        status.textContent = 'Upload refused.';
        const hint = /\.(csv|tsv|txt)$/i.test(f.name) ? '' : ' It does not look like a CSV file: upload a .csv whose first line names the fields.';
        err.textContent = `${f.name} was not accepted: ${errorText(xhr.status, doc, xhr.responseText)} (HTTP ${xhr.status}).${hint}`;
        return;
      }
      bar.value = 100;
      status.textContent = `Uploaded ${f.name}: ${fmt(doc.rows)} rows, ${doc.fields.length} fields.`;
      location.hash = `#/datasets/${doc.dataset_id}`;
    };
    xhr.onerror = () => { err.textContent = 'The upload was interrupted (network error).'; };
    bar.value = 0;
    xhr.send(f);
  }
  main.append(h('section', { class: 'card', 'aria-labelledby': 'up-title' },
    h('h2', { id: 'up-title' }, 'Upload'),
    h('div', { class: 'row' }, h('label', { for: 'upload-name' }, 'Dataset name'), name),
    h('label', { for: 'upload-file', class: 'muted' }, 'CSV file (first line: field names)'), file, drop, bar, status, err));
  const list = await api('GET', '/api/v1/datasets?limit=100');
  const rows = (list.datasets || []).map(d => ({ cells: [
    h('a', { href: `#/datasets/${d.dataset_id}` }, d.name || d.dataset_id), fmt(d.rows), String(d.fields.length),
    bytes(d.size || 0), new Date(d.created_at).toLocaleString(),
    h('a', { class: 'button secondary', href: `#/train/${d.dataset_id}`, 'aria-label': `Train on ${d.name}` }, 'Train')] }));
  main.append(h('section', { 'aria-labelledby': 'ds-title' }, h('h2', { id: 'ds-title' }, `In this workspace (${list.total})`),
    rows.length ? table(['Name', { label: 'Rows', num: true }, { label: 'Fields', num: true }, { label: 'Size', num: true }, 'Uploaded', ''], rows)
      : h('p', { class: 'muted' }, 'No dataset yet: upload a CSV above.')));
}

async function viewDataset(main, id) {
  const d = await api('GET', `/api/v1/datasets/${encodeURIComponent(id)}`);
  const err = h('p', { class: 'error', role: 'alert' });
  main.append(h('h1', {}, `Dataset ${d.name}`),
    h('p', { class: 'muted' }, `${fmt(d.rows)} rows · ${d.fields.length} fields · ${bytes(d.size)} · sha256 ${d.sha256.slice(0, 12)}…`),
    h('div', { class: 'actions' }, h('a', { class: 'button', href: `#/train/${d.dataset_id}` }, 'Train a model'),
      h('button', { type: 'button', class: 'danger', onclick: async () => {
        if (!confirm(`Delete dataset ${d.name}?`)) return;
        try { await api('DELETE', `/api/v1/datasets/${encodeURIComponent(id)}`); toast(`Deleted ${d.name}`); location.hash = '#/datasets'; }
        catch (e) { err.textContent = e.message; }
      } }, 'Delete')), err);
  main.append(h('h2', {}, 'Inferred schema'), table(['Field', 'Type', { label: 'Missing', num: true }, { label: 'Distinct', num: true }],
    d.fields.map(f => ({ cells: [f.name, f.type, fmt(f.missing),
      f.distinct == null ? '—' : (f.distinct_estimated ? '≈ ' : '') + fmt(f.distinct)] })),
    { caption: 'Distinct values are counted for text fields (≈: estimated past 2,048)' }));
  const pv = await api('GET', `/api/v1/datasets/${encodeURIComponent(id)}/preview?rows=20`);
  main.append(h('h2', {}, 'Preview'), pv.rows.length
    ? table(pv.fields, pv.rows.map(r => ({ cells: r })), { plain: true, caption: `First ${pv.rows.length} of ${fmt(d.rows)} rows` })
    : h('p', { class: 'muted' }, 'No rows.'));
}

// --- train ----------------------------------------------------------------
// What the engine will decide, said before it does (ml/task.c decides; the
// job page shows its verdict and reason once training starts).
function expectedTask(f) {
  if (!f) return '';
  if (f.type === 'boolean') return 'binary classification (a yes/no field)';
  if (f.type === 'category') return 'classification (binary or multiclass by the number of classes)';
  if (f.type === 'number') return 'regression, unless the field holds a few integer codes (then classification)';
  return 'classification of text values';
}
async function viewTrain(main, id) {
  const d = await api('GET', `/api/v1/datasets/${encodeURIComponent(id)}`);
  const err = h('p', { class: 'error', role: 'alert', id: 'train-error' });
  const hint = h('p', { class: 'muted', 'aria-live': 'polite', id: 'task-hint' });
  const targets = d.fields.map(f => h('label', {}, h('input', { type: 'checkbox', name: 'target', value: f.name,
    onchange: update }), ' ', f.name));
  const ignores = d.fields.map(f => h('label', {}, h('input', { type: 'checkbox', name: 'ignore', value: f.name }), ' ', f.name));
  const duration = h('select', { id: 'duration', name: 'duration' }, DURATIONS.map(s => h('option', { value: s }, secs(s))));
  const extra = h('input', { type: 'checkbox', id: 'extra', name: 'extra_attention' });
  function update() {
    const chosen = targets.map(l => l.firstChild).filter(c => c.checked).map(c => c.value);
    hint.textContent = chosen.map(n => `${n}: ${expectedTask(d.fields.find(f => f.name === n))}`).join(' · ')
      || 'Choose the field(s) to predict.';
    ignores.forEach(l => { l.firstChild.disabled = chosen.includes(l.firstChild.value); });
  }
  const form = h('form', { class: 'card', onsubmit: async ev => {
    ev.preventDefault();
    err.textContent = '';
    const predict = targets.map(l => l.firstChild).filter(c => c.checked).map(c => c.value);
    const ignore = ignores.map(l => l.firstChild).filter(c => c.checked && !c.disabled).map(c => c.value);
    if (!predict.length) { err.textContent = 'predict_fields: choose at least one field to predict.'; return; }
    try {
      const r = await api('POST', '/api/v1/models/train/new', { dataset_id: d.dataset_id, predict_fields: predict,
        ignore_fields: ignore, duration: Number(duration.value), extra_attention: extra.checked });
      toast(r.existing ? 'This training already exists: showing it.' : 'Training queued.');
      location.hash = `#/jobs/${r.task_id}`;
    } catch (e) { err.textContent = e.message; }
  } },
    h('fieldset', {}, h('legend', {}, 'Predict (targets)'), h('div', { class: 'checks' }, targets)), hint,
    h('fieldset', {}, h('legend', {}, 'Ignore these fields'), h('div', { class: 'checks' }, ignores)),
    h('div', { class: 'row' }, h('label', { for: 'duration' }, 'Time budget'), duration),
    h('div', { class: 'row inline' }, extra, h('label', { for: 'extra' }, 'Extra attention to rare classes')),
    err, h('button', { type: 'submit' }, 'Train'));
  main.append(h('h1', {}, `Train on ${d.name}`), form);
  update();
}

// --- jobs -----------------------------------------------------------------
function progressCell(j) {
  const p = Math.max(0, Math.min(1, j.progress || 0));
  const done = j.state === 'succeeded';
  const pct = done ? 100 : Math.round(p * 100);
  const eta = done ? null : j.eta_seconds != null ? j.eta_seconds
    : p > 0.01 && j.duration_seconds ? j.duration_seconds * (1 - p) / p : null;
  return h('div', {}, h('progress', { max: 100, value: pct, 'aria-label': `Progress of job ${j.job_id}` }),
    h('small', { class: 'muted' }, `${pct}%` + (eta != null && !['failed', 'killed', 'timed_out'].includes(j.state) ? ` · about ${secs(eta)} left` : '')));
}
const badge = s => h('span', { class: `badge ${s}` }, s);
async function viewJobs(main) {
  main.append(h('h1', {}, 'Jobs'), h('p', { class: 'muted' }, `Every job of workspace ${state.ws}, whichever API submitted it.`), liveStatus());
  const box = h('div', { 'aria-live': 'off' });
  main.append(box);
  let jobs = [];
  async function refresh() {
    jobs = unwrap(await api('GET', wsPath())).jobs || [];
    render();
  }
  function render() {
    const rows = jobs.map(j => ({ cells: [
      h('a', { href: `#/jobs/${j.job_id}` }, j.job_id.slice(0, 8)), j.dialect || '—', badge(j.state),
      (j.predict_fields || []).join(', ') || '—', progressCell(j), new Date(j.created_at).toLocaleString(),
      j.state === 'succeeded' ? h('a', { href: `#/models/${j.job_id}` }, 'Model') : ''] }));
    box.replaceChildren(rows.length ? table(['Job', 'API', 'State', 'Predicts', 'Progress', 'Submitted', ''], rows)
      : h('p', { class: 'muted' }, 'No job yet.'));
  }
  await refresh();
  // A job event replaces what the list knows of that job; a job the list
  // has not seen yet (queued since it loaded) puts it on top.
  liveEvents({}, { job: j => {
    const i = jobs.findIndex(x => x.job_id === j.job_id);
    if (i >= 0) jobs[i] = { ...jobs[i], ...j }; else jobs.unshift(j);
    render();
  } }, () => every(2000, () => refresh().catch(e => box.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message)))));
}
async function viewJob(main, id) {
  const head = h('div'), logs = h('pre', { class: 'logs', tabindex: 0, 'aria-label': 'Job log (latest lines)', id: 'job-logs' });
  const err = h('p', { class: 'error', role: 'alert' });
  const announce = h('p', { class: 'muted', 'aria-live': 'polite', id: 'job-announce' });
  main.append(h('h1', {}, `Job ${id.slice(0, 8)}`), liveStatus(), head, announce, err, h('h2', {}, 'Log'), logs);
  let after = 0, lastState = null, lines = [], job = null;
  const isLive = j => !['succeeded', 'failed', 'killed', 'timed_out'].includes(j.state);
  // The card is built once and updated in place: events arrive several
  // times a second, and a button rebuilt under the pointer would swallow a
  // click (or a keyboard focus).
  const info = h('p'), prog = h('div'), jobErr = h('p', { class: 'error', hidden: true });
  const kill = h('button', { type: 'button', class: 'danger', id: 'kill', onclick: async () => {
    try { await api('DELETE', wsPath(id)); toast('Kill requested'); } catch (e) { err.textContent = e.message; }
  } }, 'Kill');
  const open = h('a', { class: 'button', href: `#/models/${id}`, id: 'open-model' }, 'Open the model');
  const actions = h('div', { class: 'actions' });
  head.append(h('div', { class: 'card' }, info, prog, jobErr, actions));
  function show(j) {
    job = j;
    info.replaceChildren(badge(j.state), ' ', `${j.dialect || ''} job · predicts ${(j.predict_fields || []).join(', ') || '—'} · dataset `,
      j.dataset_id ? h('a', { href: `#/datasets/${j.dataset_id}` }, j.dataset_id.slice(0, 8)) : '—');
    prog.replaceChildren(progressCell(j));
    jobErr.textContent = j.error || ''; jobErr.hidden = !j.error;
    if (isLive(j)) { if (!kill.isConnected) actions.prepend(kill); } else kill.remove();
    if (j.state === 'succeeded') { if (!open.isConnected) actions.append(open); } else open.remove();
    if (j.state !== lastState) { announce.textContent = `State: ${j.state}`; lastState = j.state; }
  }
  function addLines(ls, next) {
    if (!ls.length) return;
    lines = lines.concat(ls.map(l => l.line)).slice(-200);
    after = next;
    logs.textContent = lines.join('\n');
    logs.scrollTop = logs.scrollHeight;
  }
  async function refresh() {
    const info = unwrap(await api('GET', wsPath()));
    show((info.jobs || []).find(x => x.job_id === id) || unwrap(await api('GET', wsPath(id))));
    const lg = unwrap(await api('GET', wsPath(id, 'logs') + `?format=lines&after=${after}&limit=500`));
    addLines(lg.logs || [], lg.next_after);
    return isLive(job);
  }
  if (!(await refresh())) { const l = $('#live-status'); if (l) l.remove(); return; }
  const stop = liveEvents({ job_id: id, after }, {
    job: j => show({ ...job, ...j }),
    log: l => { if (l.seq > after) addLines([l], l.seq); },
    end: () => { stop(); const l = $('#live-status'); if (l) { l.textContent = 'The job is over.'; l.dataset.live = 'ended'; } },
  }, () => {
    const t = every(1000, async () => { try { if (!(await refresh())) { clearInterval(t); stop(); } } catch (e) { err.textContent = e.message; } });
    return t;
  });
}

// --- model ----------------------------------------------------------------
function chart(canvasParent, config) {
  const c = h('canvas', { role: 'img', 'aria-label': config.label });
  canvasParent.append(c);
  const ch = new Chart(c, Object.assign({ options: {} }, config.chart));
  state.charts.push(ch);
  return ch;
}
const axes = (x, y, extra) => Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
  scales: { x: { type: 'linear', title: { display: true, text: x } }, y: { type: 'linear', title: { display: true, text: y } } },
  plugins: { legend: { display: false } } }, extra || {});
function confusionTable(cm) {
  const max = Math.max(1, ...cm.matrix.flat());
  const rows = cm.matrix.map((r, a) => h('tr', {}, h('th', { scope: 'row' }, cm.labels[a]), r.map((v, p) => {
    const td = h('td', { title: `actual ${cm.labels[a]}, predicted ${cm.labels[p]}: ${v}` }, fmt(v));
    const t = v / max; // shade by share of the largest cell; dark text stays readable up to 0.55
    td.style.background = `rgba(11, 87, 208, ${(0.08 + 0.5 * t).toFixed(3)})`;
    if (a === p) td.style.fontWeight = '700';
    return td;
  })));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'cm', id: 'confusion-matrix' },
    h('caption', { class: 'muted' }, 'Rows: actual class · columns: predicted class (validation rows)'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'actual \\ predicted'), cm.labels.map(l => h('th', { scope: 'col' }, l)))),
    h('tbody', {}, rows)));
}
async function viewModel(main, taskId) {
  const r = await api('GET', `/api/v1/models/train/${encodeURIComponent(taskId)}/result`);
  const modelIds = r.model_ids || [r.model_id];
  main.append(h('h1', {}, 'Model'), h('p', { class: 'muted' }, `Task ${taskId} · trained in ${secs(r.seconds)}`));
  if (!(r.models || []).length)
    main.append(h('p', {}, 'This job ran its own training code (a KAOS source bundle): its runs and their models are on ',
      h('a', { href: '#/workspace' }, 'Workspace jobs'), '.'));
  (r.models || []).forEach((m, i) => {
    const sec = h('section', { class: 'card', 'aria-labelledby': `m${i}` });
    const mid = modelIds[i] || r.model_id;
    // The engine marks the candidate it kept and says why (ml/search.c);
    // results from before that carry neither: the refitted model's family
    // and score find it.
    // A blend (m.model "ensemble") is chosen as a whole: its members carry
    // blend_weight and none is "chosen".
    const cands = (m.candidates || []).slice().sort((a, b) => a.rank - b.rank);
    const blend = m.model === 'ensemble';
    const members = cands.filter(c => c.blend_weight != null);
    const best = blend ? null : cands.find(c => c.chosen) || cands.find(c => c.model === m.model && c.value === m.value) || cands[0];
    const kept = c => c === best || members.includes(c);
    sec.append(h('h2', { id: `m${i}` }, `Predicting ${m.predict_field}`),
      h('p', {}, h('strong', {}, `Task: ${m.task}`), ` — detected because: ${m.reason}.`),
      h('p', { id: `chosen-${i}` }, blend
        ? `Chosen: a blend of ${members.length} candidates (ranks ${members.map(c => c.rank).join(', ')}), validation ${m.metric} `
        : `Chosen: the ${m.model} model (rank ${best ? best.rank : '?'}), validation ${m.metric} `,
        h('strong', {}, fmt(m.value)), ` (${m.validation}, ${fmt(m.rows)} rows). Why: `,
        blend ? (m.selection || 'the blend validated better than the best single model')
          : best && best.why ? best.why : `best validation ${m.metric}`,
        m.refit ? '; then refitted on all rows.' : '.'),
      h('div', { class: 'actions' },
        h('button', { type: 'button', id: `download-${i}`, onclick: () => download(mid) }, 'Download model (.tar.gz)'),
        h('a', { class: 'button secondary', href: `#/predict/${mid}` }, 'Predict')));
    const vm = m.validation_metrics || {};
    sec.append(h('p', { class: 'muted' }, Object.entries(vm).filter(([k]) => k !== 'metric' && k !== 'value')
      .map(([k, v]) => `${k} ${fmt(v)}`).join(' · ')));
    // Leaderboard.
    // The top ten and the chosen one show; the rest fold away.
    const lbRow = c => ({ cls: kept(c) ? 'chosen' : null, cells: [
        c === best ? h('span', {}, `${c.rank} `, h('span', { class: 'badge succeeded' }, 'chosen'))
          : members.includes(c) ? h('span', {}, `${c.rank} `, h('span', { class: 'badge succeeded' }, `in the blend ×${fmt(c.blend_weight, 2)}`))
          : String(c.rank),
        c.model, Object.entries(c.params || {}).filter(([k]) => !['nthread', 'booster', 'tree_method'].includes(k))
          .map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toPrecision(3) : v}`).join(', '),
        fmt(c.value), c.model === 'linear' ? '—' : fmt(c.trees), fmt(c.seconds, 2)] });
    const lbHead = ['Rank', 'Family', 'Hyperparameters', { label: m.metric, num: true }, { label: 'Trees', num: true }, { label: 'Seconds', num: true }];
    const top = cands.filter((c, k) => k < 10 || kept(c)), rest = cands.filter(c => !top.includes(c));
    sec.append(h('h3', {}, 'Leaderboard'), table(lbHead, top.map(lbRow), { caption: `Candidates tried, best validation ${m.metric} first` }));
    if (rest.length) sec.append(h('details', {}, h('summary', {}, `${rest.length} more candidates`), table(lbHead, rest.map(lbRow))));
    const grid = h('div', { class: 'grid' });
    sec.append(grid);
    // Per-class metrics (Akkio's stats for this field).
    const st = (r.stats || [])[i] || [];
    if (m.task !== 'regression') {
      sec.insertBefore(h('div', {}, h('h3', {}, 'Per-class metrics'), table(['Class', { label: 'Count', num: true }, { label: 'Precision', num: true },
        { label: 'Recall', num: true }, { label: 'F1', num: true }, { label: 'Frequency', num: true }],
        st.map(s => ({ cells: [s.class_name, fmt(s.count), fmt(s.precision, 3), fmt(s.recall, 3), fmt(s.f1, 3), fmt(s.frequency, 3)] })))), grid);
    } else if (st[0]) {
      sec.insertBefore(h('p', {}, `MAE ${fmt(st[0].mae)} · RMSE ${fmt(st[0].rmse)} · R² ${fmt(st[0].r2)} on ${fmt(st[0].count)} validation rows`), grid);
    }
    const ch = m.charts || {};
    if (ch.confusion_matrix) grid.append(h('div', {}, h('h3', {}, 'Confusion matrix'), confusionTable(ch.confusion_matrix)));
    // Importance as bars, largest first.
    const imp = Object.entries(m.field_importance || {}).sort((a, b) => b[1] - a[1]);
    const impBox = h('div', { class: 'chart tall', id: `importance-${i}` });
    grid.append(h('div', {}, h('h3', {}, 'Field importance'), impBox));
    chart(impBox, { label: `Field importance: ${imp.slice(0, 5).map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`).join(', ')}`,
      chart: { type: 'bar', data: { labels: imp.map(e => e[0]), datasets: [{ data: imp.map(e => e[1] * 100), backgroundColor: '#0b57d0' }] },
        options: { indexAxis: 'y', responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } },
          scales: { x: { title: { display: true, text: 'share of importance (%)' } }, y: { ticks: { autoSkip: false } } } } } });
    if (ch.roc) {
      const b = h('div', { class: 'chart', id: `roc-${i}` });
      grid.append(h('div', {}, h('h3', {}, `ROC curve (AUC ${fmt(ch.roc.auc, 3)}, positive: ${ch.roc.positive})`), b));
      chart(b, { label: `ROC curve, AUC ${fmt(ch.roc.auc, 3)}`, chart: { type: 'scatter', data: { datasets: [
        { data: ch.roc.points.map(p => ({ x: p[0], y: p[1] })), showLine: true, pointRadius: 0, borderColor: '#0b57d0' },
        { data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, pointRadius: 0, borderColor: '#9aa4b0', borderDash: [4, 4] }] },
        options: axes('false positive rate', 'true positive rate') } });
    }
    if (ch.pr) {
      const b = h('div', { class: 'chart', id: `pr-${i}` });
      grid.append(h('div', {}, h('h3', {}, `Precision-recall (AP ${fmt(ch.pr.average_precision, 3)})`), b));
      chart(b, { label: `Precision-recall curve, average precision ${fmt(ch.pr.average_precision, 3)}`, chart: { type: 'scatter',
        data: { datasets: [{ data: ch.pr.points.map(p => ({ x: p[0], y: p[1] })), showLine: true, pointRadius: 0, borderColor: '#b3261e' }] },
        options: axes('recall', 'precision') } });
    }
    if (ch.residuals) {
      const a = ch.residuals.actual, p = ch.residuals.predicted;
      const lo = Math.min(...a, ...p), hi = Math.max(...a, ...p);
      const b1 = h('div', { class: 'chart', id: `pva-${i}` }), b2 = h('div', { class: 'chart', id: `resid-${i}` });
      grid.append(h('div', {}, h('h3', {}, `Predicted vs actual (${a.length} of ${fmt(ch.residuals.count)} rows)`), b1),
        h('div', {}, h('h3', {}, 'Residuals'), b2));
      chart(b1, { label: 'Predicted against actual values', chart: { type: 'scatter', data: { datasets: [
        { data: a.map((v, k) => ({ x: v, y: p[k] })), pointRadius: 2, backgroundColor: '#0b57d0' },
        { data: [{ x: lo, y: lo }, { x: hi, y: hi }], showLine: true, pointRadius: 0, borderColor: '#9aa4b0', borderDash: [4, 4] }] },
        options: axes('actual', 'predicted') } });
      chart(b2, { label: 'Residuals (actual minus predicted) against predicted values', chart: { type: 'scatter', data: { datasets: [
        { data: a.map((v, k) => ({ x: p[k], y: v - p[k] })), pointRadius: 2, backgroundColor: '#b3261e' }] },
        options: axes('predicted', 'actual − predicted') } });
    }
    // The data story as sentences.
    const story = (r.data_story || [])[i];
    const num = v => +Number(v).toPrecision(4);
    if (story && story.outcomes && m.task === 'regression') {
      // One outcome, the predicted value: causes push it up (top) or down.
      const o = story.outcomes[0] || {}, cs = (o.causes || []).slice(0, 3);
      sec.append(h('h3', {}, 'Data story'), h('ul', { class: 'story' },
        h('li', {}, `"${m.predict_field}" is predicted highest when `, cs.map((c, k) => `${k ? (k === cs.length - 1 ? ' and ' : ', ') : ''}${c.field} is ${c.top_value}`).join(''),
          ', and lowest when ', cs.map((c, k) => `${k ? (k === cs.length - 1 ? ' and ' : ', ') : ''}${c.field} is ${c.bottom_value}`).join(''), '.'),
        o.avg_case != null ? h('li', {}, `Predictions average ${num(o.avg_case)}, from ${num(o.bottom_case)} in the lowest case to ${num(o.top_case)} in the highest.`) : null));
    } else if (story && story.outcomes) {
      sec.append(h('h3', {}, 'Data story'), h('ul', { class: 'story' }, story.outcomes.map(o => h('li', {},
        `"${m.predict_field}" is ${o.outcome} most often when `,
        (o.causes || []).slice(0, 3).map((c, k) => `${k ? (k === 2 ? ' and ' : ', ') : ''}${c.field} is ${c.top_value}`).join(''),
        ` (least often when ${(o.causes || []).slice(0, 1).map(c => `${c.field} is ${c.bottom_value}`).join('')}); `,
        o.avg_case != null ? `its average likelihood is ${(o.avg_case * 100).toFixed(0)}%, from ${(o.bottom_case * 100).toFixed(0)}% to ${(o.top_case * 100).toFixed(0)}%.` : ''))));
    } else if (story && story.causes) {
      sec.append(h('h3', {}, 'Data story'), h('ul', { class: 'story' }, story.causes.slice(0, 5).map(c =>
        h('li', {}, `${m.predict_field} is highest when ${c.field} is ${c.top_value} and lowest when it is ${c.bottom_value}.`))));
    }
    main.append(sec);
  });
}
// Downloads go through fetch (the key is a header, not a cookie); the
// answer becomes a blob URL the browser saves.
async function download(modelId) {
  const r = await api('GET', `/api/v1/models/${encodeURIComponent(modelId)}/download`, null, { blob: true });
  const cd = r.headers.get('Content-Disposition') || '';
  const m = cd.match(/filename="?([^";]+)"?/);
  saveBlob(await r.blob(), m ? m[1] : `model-${modelId}.tar.gz`);
}
function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  toast(`Saved ${name}`);
}

// --- predict --------------------------------------------------------------
async function viewPredict(main, modelId) {
  const m = await api('GET', `/api/v1/models/${encodeURIComponent(modelId)}`);
  const err = h('p', { class: 'error', role: 'alert', id: 'predict-error' });
  const out = h('div', { id: 'prediction', 'aria-live': 'polite' });
  const inputs = m.features.map(f => {
    const id = `f-${f.name}`;
    const el = f.kind === 'category'
      ? h('select', { id, name: f.name }, h('option', { value: '' }, '(missing)'), f.levels.map(l => h('option', { value: l }, l)))
      : h('input', { id, name: f.name, type: 'number', step: 'any', inputmode: 'decimal',
        placeholder: f.mean != null ? `mean ${+f.mean.toPrecision(4)}` : '' });
    return h('div', { class: 'row' }, h('label', { for: id }, f.name), el);
  });
  const form = h('form', { class: 'card', id: 'predict-form', onsubmit: async ev => {
    ev.preventDefault();
    err.textContent = '';
    const row = {};
    for (const f of m.features) {
      const v = form.elements[f.name].value;
      if (v === '') continue; // missing: the model handles it as XGBoost does
      row[f.name] = f.kind === 'category' ? v : Number(v);
    }
    try {
      const res = await api('POST', `/api/v1/models/${encodeURIComponent(modelId)}/predict`, { data: [row], explain: true });
      showPrediction(out, m, res.predictions[0]);
    } catch (e) { err.textContent = e.message; }
  } }, h('div', { class: 'grid' }, inputs), err, h('button', { type: 'submit' }, 'Predict'));
  const batchErr = h('p', { class: 'error', role: 'alert' }), batchStatus = h('p', { class: 'muted', 'aria-live': 'polite' });
  const batchFile = h('input', { type: 'file', id: 'batch-file', accept: '.csv,text/csv' });
  batchFile.addEventListener('change', () => batchFile.files[0] && batch(batchFile.files[0]));
  // Batch: the CSV is parsed here, sent in chunks of 1000 rows (the route
  // takes 32 MB), and the answers are joined to the input rows as CSV.
  async function batch(f) {
    batchErr.textContent = '';
    batchStatus.textContent = `Reading ${f.name}…`;
    const parsed = await new Promise(res => Papa.parse(f, { header: true, skipEmptyLines: true, dynamicTyping: false, complete: res }));
    if (parsed.errors.length) { batchErr.textContent = `${f.name}: row ${parsed.errors[0].row + 2}: ${parsed.errors[0].message}`; return; }
    const cats = new Set(m.features.filter(f => f.kind === 'category').map(f => f.name));
    const known = new Set(m.features.map(f => f.name));
    const rows = parsed.data.map(r => { const o = {}; for (const [k, v] of Object.entries(r)) {
      if (!known.has(k) || v === '') continue; o[k] = cats.has(k) ? v : Number(v); } return o; });
    const out = [];
    try {
      for (let i = 0; i < rows.length; i += 1000) {
        batchStatus.textContent = `Predicting rows ${i + 1}–${Math.min(rows.length, i + 1000)} of ${rows.length}…`;
        const res = await api('POST', `/api/v1/models/${encodeURIComponent(modelId)}/predict`, { data: rows.slice(i, i + 1000) });
        out.push(...res.predictions);
      }
    } catch (e) { batchErr.textContent = e.message; batchStatus.textContent = ''; return; }
    const merged = parsed.data.map((r, k) => Object.assign({}, r, out[k]));
    saveBlob(new Blob([Papa.unparse(merged)], { type: 'text/csv' }), f.name.replace(/\.csv$/i, '') + '-predictions.csv');
    batchStatus.textContent = `${out.length} predictions saved.`;
  }
  main.append(h('h1', {}, `Predict ${m.predict_field}`), h('p', { class: 'muted' }, `Model ${modelId} · ${m.task}`),
    h('h2', {}, 'One row'), form, out,
    h('h2', {}, 'A CSV batch'), h('div', { class: 'card' }, h('label', { for: 'batch-file' }, 'CSV with the model\'s input fields (predictions download as CSV)'),
      h('br'), batchFile, batchStatus, batchErr));
}
function showPrediction(out, m, p) {
  const probs = Object.entries(p).filter(([k]) => k.startsWith('Probability '));
  const ex = p.explanation || {};
  const contrib = Object.entries(ex.contributions || (ex.classes && ex.classes[p[m.predict_field]] || {}).contributions || {})
    .filter(e => e[1] !== 0).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  out.replaceChildren(h('div', { class: 'card' },
    h('p', {}, 'Prediction: ', h('strong', { id: 'prediction-value' }, fmt(p[m.predict_field]))),
    probs.length ? table(['Class', { label: 'Probability', num: true }], probs.map(([k, v]) => ({ cells: [k.replace(`Probability ${m.predict_field} is `, ''), fmt(v, 3)] }))) : null,
    contrib.length ? h('div', {}, h('h3', {}, `Why (contributions in ${ex.output || 'margin'} units${ex.class ? ', towards ' + ex.class : ''})`),
      table(['Field', { label: 'Contribution', num: true }], contrib.map(([k, v]) => ({ cells: [k, (v > 0 ? '+' : '') + v.toFixed(3)] })))) : null));
}

// --- trainings collection (Strapi) and workspace jobs (KAOS) ---------------
async function viewTrainings(main) {
  const docs = await api('GET', '/trainings?_sort=created_at:DESC&_limit=100');
  main.append(h('h1', {}, 'Trainings'), h('p', { class: 'muted' }, 'The /trainings collection (Strapi-style), newest first.'),
    keyWorkspaceNote() || '');
  if (!docs.length) { main.append(h('p', { class: 'muted' }, 'No training document yet (POST /trainings creates one).')); return; }
  // Strapi's collection fields (seed 000), those that any document fills.
  const nums = ['accuracy', 'precission', 'mae', 'rmse'];
  const cols = ['id', 'uuid', 'version', ...nums, 'binaryPath', 'meta', 'created_at', 'published_at'].filter(c => docs.some(d => d[c] != null));
  const cell = (c, v) => v == null ? '—' : c.endsWith('_at') ? new Date(v).toLocaleString()
    : typeof v === 'object' ? JSON.stringify(v) : fmt(v);
  main.append(table(cols.map(c => ({ label: c, num: nums.includes(c) })),
    docs.map(d => ({ cells: cols.map(c => cell(c, d[c])) })), { plain: true, caption: `${docs.length} documents` }));
}
async function viewWorkspace(main) {
  const doc = unwrap(await api('GET', wsPath()));
  main.append(h('h1', {}, `Workspace jobs · ${state.ws}`), h('p', { class: 'muted' }, 'Jobs submitted as bundles (KAOS-style), with their models and logs.'));
  const ws = (doc.jobs || []).filter(j => j.dialect === 'workspace' || j.dialect === 'kaos');
  const box = h('div');
  main.append(ws.length ? table(['Job', 'State', 'User', 'Progress', 'Submitted', ''], ws.map(j => ({ cells: [
    h('a', { href: `#/jobs/${j.job_id}` }, j.job_id.slice(0, 8)), badge(j.state), j.user || '—', progressCell(j),
    new Date(j.created_at).toLocaleString(), h('button', { type: 'button', class: 'secondary', id: `models-${j.job_id}`, 'aria-label': `Models of job ${j.job_id.slice(0, 8)}`,
      onclick: () => showModels(box, j.job_id) }, 'Models')] })))
    : h('p', { class: 'muted' }, 'No bundle job in this workspace.'), box);
  if ((doc.ingesting || []).length) main.append(h('h2', {}, 'Data and hyperparameter bundles'),
    table(['Bundle', 'Kind', 'User', 'Uploaded'], doc.ingesting.map(b => ({ cells: [b.job_id.slice(0, 8), b.kind, b.user || '—', new Date(b.created_at).toLocaleString()] }))));
}
// A job's models: KAOS runs (partitions: one per hyperparameter file, with
// the metrics the user's code wrote) or, for a spec bundle, the built-in
// engine's models. Each downloads as KAOS's bundle (include_model).
const kv = o => Object.entries(o || {}).map(([k, v]) => `${k}=${typeof v === 'number' ? +v.toPrecision(4) : JSON.stringify(v)}`).join(', ') || '—';
async function showModels(box, jobId) {
  const info = unwrap(await api('GET', wsPath(jobId)));
  const dl = mid => h('button', { type: 'button', class: 'secondary', onclick: async () => {
    const r = await api('GET', wsPath(jobId, 'bundle') + `?include_model=True&model_id=${encodeURIComponent(mid)}`, null, { blob: true });
    saveBlob(await r.blob(), `model-${mid}.zip`);
  } }, 'Download');
  let body;
  if (info.partitions) {
    body = info.partitions.length ? table(['Run', 'Status', 'Metrics', 'Hyperparameters', ''], info.partitions.map(p => ({ cells: [
      p.hyperparameters_file || '—', badge(p.status || '—'), kv(p.metrics), kv(p.hyperparameters),
      p.model_id ? dl(p.model_id) : (p.error || '')] }))) : h('p', { class: 'muted' }, 'No run yet.');
  } else {
    const ms = info.models || [];
    body = ms.length ? table(['Model', 'Predicts', 'Task', 'Validation', ''], ms.map(m => ({ cells: [
      m.model_id.slice(0, 8), m.predict_field || '—', m.task || '—', kv(m.metrics),
      h('span', { class: 'actions' }, h('a', { href: `#/models/${jobId}` }, 'Model page'), h('a', { href: `#/predict/${m.model_id}` }, 'Predict'))] })))
      : h('p', { class: 'muted' }, 'No model yet.');
  }
  box.replaceChildren(h('h2', {}, `Models of job ${jobId.slice(0, 8)}`), body,
    h('p', {}, h('a', { href: `#/jobs/${jobId}` }, 'Logs and progress of this job')));
}

window.addEventListener('DOMContentLoaded', async () => {
  $('#sign-out').addEventListener('click', () => { sessionStorage.clear(); state.key = null; location.hash = ''; route(); });
  $('#ws-picker').addEventListener('change', ev => { state.ws = ev.target.value; sessionStorage.setItem(WS, state.ws); route(); });
  window.addEventListener('hashchange', route);
  if (state.key) {
    try { await loadWorkspaces(); } catch (e) { state.key = null; sessionStorage.removeItem(KEY); }
  }
  route();
});
