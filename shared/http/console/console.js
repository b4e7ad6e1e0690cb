"use strict";
// The genjobs console: plain DOM code, no build step. Served inline by GET /console
// (same origin as the API, so no CORS); every data call carries the bearer token.
(() => {
  // The API's root: "" when the page is /console, "/api" behind a path prefix.
  const base = location.pathname.replace(/\/console\/?$/, "");
  const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED"]);
  const RESUMABLE = new Set(["FAILED", "CANCELLED"]);
  const TOKEN_KEY = "genjobs.console.token";
  const $ = (id) => document.getElementById(id);

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || "",
    pages: [null], // page tokens: pages[i] fetches page i
    page: 0,
    runId: null,
    run: null,
    stream: null, // AbortController of the live stream
    canResume: null, // null until probed
    listing: 0, // the latest list request: an older answer arriving late is dropped
    outputs: null, // GET /v1/runs/{runId}/outputs of the open run
    outputsKey: "", // which steps had ended when it was fetched
    panels: new Map(), // step data panels the user opened or closed
    items: new Map(), // live items by step: {attempt, items, final, note}
    lastEventId: null, // the last event's id, sent back as Last-Event-ID on reconnect
    reviewing: null, // the run whose review is open
    review: null, // {runId, programme} once loaded
  };

  class ApiError extends Error {
    constructor(status, error) {
      super((error && error.message) || `HTTP ${status}`);
      this.status = status;
      this.code = error && error.code;
      this.details = (error && error.details) || [];
    }
  }

  // ---- the API -------------------------------------------------------------

  function headers(extra) {
    const h = { Accept: "application/json", ...extra };
    if (state.token) h.Authorization = `Bearer ${state.token}`;
    return h;
  }

  async function api(method, path, body) {
    const init = { method, headers: headers(body ? { "Content-Type": "application/json" } : {}) };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(base + path, init);
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const error = new ApiError(response.status, data && data.error);
      if (response.status === 401) tokenRejected(error);
      throw error;
    }
    return data;
  }

  // ---- token ---------------------------------------------------------------

  function claims(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part));
    } catch (_) {
      return null;
    }
  }

  function showToken() {
    const status = $("token-status");
    if (!state.token) {
      status.textContent = "No token: paste one, or open the console with #token=<JWT>.";
      return;
    }
    const c = claims(state.token);
    if (!c) {
      status.textContent = "Token set (not a readable JWT).";
      return;
    }
    const tenant = c.org_id || c.tenant || "?";
    const expiry = c.exp ? ` · expires ${when(new Date(c.exp * 1000).toISOString())}` : "";
    status.textContent = `Signed in as ${c.sub || "?"} of ${tenant}${expiry} (checked by the API).`;
  }

  function setToken(token) {
    state.token = token.trim();
    if (state.token) sessionStorage.setItem(TOKEN_KEY, state.token);
    else sessionStorage.removeItem(TOKEN_KEY);
    $("token").value = state.token;
    showToken();
  }

  function tokenRejected(error) {
    notice(`The API rejected the token: ${error.message}. Paste a new one.`);
    $("token").focus();
  }

  // The fragment is never sent to a server; take the token out of it at once so
  // it stays out of the history and of anything that copies the URL.
  function takeTokenFromFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    const token = params.get("token");
    if (token === null) return;
    params.delete("token");
    const rest = params.toString().replace(/=(&|$)/g, "$1");
    history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
    setToken(token);
  }

  // ---- formatting -----------------------------------------------------------

  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return d.toLocaleString(undefined, {
      year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
  }

  function duration(ms) {
    if (ms === undefined || ms === null) return "—";
    return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
  }

  function tokens(usage) {
    if (!usage || usage.totalTokens === undefined) return "—";
    const cost = usage.costUsd ? ` ($${Number(usage.costUsd).toFixed(4)})` : "";
    return `${usage.totalTokens.toLocaleString()}${cost}`;
  }

  function cell(row, label, content, className) {
    const td = document.createElement("td");
    td.dataset.label = label;
    if (className) td.className = className;
    if (content instanceof Node) td.append(content);
    else td.textContent = content;
    row.append(td);
    return td;
  }

  function runLink(runId) {
    const link = document.createElement("a");
    link.href = `#run=${encodeURIComponent(runId)}`;
    link.textContent = runId;
    link.className = "mono";
    return link;
  }

  function badge(status) {
    const span = document.createElement("span");
    span.className = `badge s-${status.toLowerCase()}`;
    span.textContent = status;
    return span;
  }

  function notice(message) {
    const el = $("notice");
    el.textContent = message || "";
    el.hidden = !message;
  }

  // ---- runs list --------------------------------------------------------------

  function filterQuery() {
    const form = new FormData($("filters"));
    const q = new URLSearchParams();
    for (const name of ["status", "workflow"]) {
      if (form.get(name)) q.set(name, form.get(name));
    }
    for (const name of ["createdAfter", "createdBefore"]) {
      const value = form.get(name);
      if (value) q.set(name, new Date(value).toISOString());
    }
    q.set("pageSize", form.get("pageSize"));
    return q;
  }

  async function loadRuns() {
    if (!state.token) return;
    const q = filterQuery();
    const pageToken = state.pages[state.page];
    if (pageToken) q.set("pageToken", pageToken);
    const listing = ++state.listing;
    let data;
    try {
      data = await api("GET", `/v1/runs?${q}`);
    } catch (error) {
      if (listing === state.listing && error.status !== 401) {
        notice(`Could not list runs: ${error.message}`);
      }
      return;
    }
    if (listing !== state.listing) return;
    notice("");
    const body = $("runs-table").tBodies[0];
    body.replaceChildren();
    for (const run of data.runs) {
      const row = document.createElement("tr");
      cell(row, "Created", when(run.createdAt));
      cell(row, "Run", runLink(run.runId));
      cell(row, "Workflow", run.workflow);
      cell(row, "Status", badge(run.status));
      cell(row, "Finished", when(run.finishedAt));
      cell(row, "Tokens", tokens(run.usage));
      cell(row, "Error", run.error || "", "error-cell");
      body.append(row);
    }
    $("runs-empty").hidden = data.runs.length > 0;
    state.pages.length = state.page + 1;
    if (data.nextPageToken) state.pages.push(data.nextPageToken);
    $("prev-page").disabled = state.page === 0;
    $("next-page").disabled = state.pages.length <= state.page + 1;
    $("page-label").textContent = `Page ${state.page + 1}`;
  }

  async function loadWorkflows() {
    if (!state.token) return;
    try {
      const data = await api("GET", "/v1/functions");
      const select = $("filters").elements.workflow;
      select.replaceChildren(new Option("Any", ""));
      for (const fn of data.functions) select.append(new Option(fn.id, fn.id));
    } catch (_) {
      // The filter still works with "Any"; the error shows on the list itself.
    }
  }

  // ---- charts, drawn here (SVG; no library, nothing from another origin) ------

  const SVG_NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, parent) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, String(value));
    if (parent) parent.append(el);
    return el;
  }

  function titled(el, text) {
    svg("title", {}, el).textContent = text;
    return el;
  }

  function pct(value) {
    return `${Math.max(0, Math.min(100, value)).toFixed(3)}%`;
  }

  function compact(n) {
    if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
    if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
    return String(Math.round(n * 100) / 100);
  }

  // A stacked bar chart: one column per bucket, one segment per series.
  // x positions are percentages, so the chart fits any width without a redraw.
  function stackedBars(container, { buckets, series, value, format, labelEvery, kind }) {
    const height = 170;
    const top = 16;
    const bottom = 146;
    const chart = svg("svg", {
      class: `bars ${kind}`, width: "100%", height, role: "img",
    });
    let max = 0;
    const totals = buckets.map((b) => series.reduce((sum, s) => sum + value(b.key, s.name), 0));
    for (const t of totals) max = Math.max(max, t);
    const scale = max > 0 ? (bottom - top) / max : 0;
    svg("line", { x1: "0%", x2: "100%", y1: bottom + 0.5, y2: bottom + 0.5, class: "axis" }, chart);
    if (max > 0) {
      svg("line", { x1: "0%", x2: "100%", y1: top + 0.5, y2: top + 0.5, class: "grid-line" }, chart);
      svg("text", { x: 2, y: top - 4, class: "tick" }, chart).textContent = `max ${format(max)}`;
    }
    const n = buckets.length;
    buckets.forEach((bucket, i) => {
      const group = svg("g", { class: "bucket", "data-bucket": bucket.key, "data-total": totals[i] }, chart);
      let y = bottom;
      for (const s of series) {
        const v = value(bucket.key, s.name);
        if (!v) continue;
        const h = Math.max(v * scale, 1);
        y -= h;
        const rect = svg("rect", {
          x: pct(((i + 0.12) / n) * 100), width: pct((0.76 / n) * 100), y, height: h,
          class: `seg ${s.cls}`, "data-series": s.name, "data-value": v,
        }, group);
        titled(rect, `${bucket.label}: ${s.name} ${format(v)}`);
      }
      if ((n - 1 - i) % labelEvery === 0) { // counted from the newest, which is always labelled
        svg("text", {
          x: pct(((i + 0.5) / n) * 100), y: height - 6, class: "tick", "text-anchor": "middle",
        }, chart).textContent = bucket.short;
      }
    });
    const sum = totals.reduce((a, b) => a + b, 0);
    chart.setAttribute("aria-label", `${format(sum)} in all over ${n} ${kind === "hours" ? "hours" : "days"}`);
    container.replaceChildren(chart);
  }

  function legend(list, series) {
    list.replaceChildren();
    for (const s of series) {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = `swatch ${s.cls}`;
      item.append(swatch, s.name);
      list.append(item);
    }
  }

  const STATUSES = ["COMPLETED", "RUNNING", "QUEUED", "WAITING", "FAILED", "CANCELLED"];

  // Runs per hour over the last 24 hours, by status: read from the runs list
  // (at most HOURLY_PAGES pages of 100; the note says when that cut it short).
  const HOURLY_PAGES = 5;

  async function loadHourly() {
    if (!state.token) return;
    const hour = 3600 * 1000;
    const end = Math.floor(Date.now() / hour) * hour + hour;
    const start = end - 24 * hour;
    const counts = new Map();
    let pageToken = null;
    let partial = false;
    try {
      for (let page = 0; page < HOURLY_PAGES; page += 1) {
        const q = new URLSearchParams({ createdAfter: new Date(start).toISOString(), pageSize: "100" });
        if (pageToken) q.set("pageToken", pageToken);
        const data = await api("GET", `/v1/runs?${q}`);
        for (const run of data.runs) {
          const bucket = Math.floor(Date.parse(run.createdAt) / hour) * hour;
          const key = `${bucket}|${run.status}`;
          counts.set(key, (counts.get(key) || 0) + 1);
        }
        pageToken = data.nextPageToken;
        if (!pageToken) break;
        if (page === HOURLY_PAGES - 1) partial = true;
      }
    } catch (error) {
      $("hourly-note").textContent = `(could not load: ${error.message})`;
      return;
    }
    const buckets = [];
    for (let t = start; t < end; t += hour) {
      const d = new Date(t);
      const hh = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
      buckets.push({ key: String(t), label: `${d.toLocaleDateString()} ${hh}`, short: hh });
    }
    const present = STATUSES.filter((s) => [...counts.keys()].some((k) => k.endsWith(`|${s}`)));
    const series = present.map((s) => ({ name: s, cls: `f-${s.toLowerCase()}` }));
    stackedBars($("hourly-chart"), {
      buckets, series, kind: "hours", labelEvery: 6,
      value: (key, status) => counts.get(`${key}|${status}`) || 0,
      format: (v) => `${v} run${v === 1 ? "" : "s"}`,
    });
    legend($("hourly-legend"), series);
    $("hourly-note").textContent = partial ? `(the newest ${HOURLY_PAGES * 100} runs only)` : "";
  }

  // ---- usage -----------------------------------------------------------------------

  const USAGE_DAYS = 14;

  async function loadUsage() {
    if (!state.token) return;
    const day = 24 * 3600 * 1000;
    const today = new Date();
    const iso = (t) => new Date(t).toISOString().slice(0, 10);
    const last = iso(today.getTime());
    const first = iso(today.getTime() - (USAGE_DAYS - 1) * day);
    let data;
    try {
      data = await api("GET", `/v1/usage?from=${first}&to=${last}`);
    } catch (error) {
      if (error.status !== 401) notice(`Could not load usage: ${error.message}`);
      return;
    }
    notice("");
    const workflows = [...new Set(data.days.map((r) => r.workflow))].sort();
    const series = workflows.map((w, i) => ({ name: w, cls: `c-${i % 6}` }));
    const byKey = new Map(data.days.map((r) => [`${r.day}|${r.workflow}`, r]));
    const buckets = [];
    for (let i = 0; i < USAGE_DAYS; i += 1) {
      const d = iso(Date.parse(`${first}T00:00:00Z`) + i * day);
      buckets.push({ key: d, label: d, short: d.slice(5) });
    }
    const field = (name) => (key, workflow) => {
      const row = byKey.get(`${key}|${workflow}`);
      return row ? row[name] : 0;
    };
    stackedBars($("usage-tokens-chart"), {
      buckets, series, kind: "days", labelEvery: 3, value: field("totalTokens"),
      format: (v) => `${compact(v)} tokens`,
    });
    stackedBars($("usage-cost-chart"), {
      buckets, series, kind: "days", labelEvery: 3, value: field("costUsd"),
      format: (v) => `$${Number(v).toFixed(v < 1 ? 4 : 2)}`,
    });
    legend($("usage-legend"), series);
    const body = $("usage-table").tBodies[0];
    body.replaceChildren();
    for (const r of [...data.days].sort((a, b) => (a.day < b.day ? 1 : a.day > b.day ? -1 : 0))) {
      const row = document.createElement("tr");
      cell(row, "Day", r.day);
      cell(row, "Workflow", r.workflow);
      cell(row, "Runs", String(r.runs));
      cell(row, "Tokens", r.totalTokens.toLocaleString());
      cell(row, "Cost", `$${Number(r.costUsd).toFixed(4)}`);
      body.append(row);
    }
    const t = data.today;
    $("usage-today").textContent =
      `Today (${t.day}, UTC): ${t.totalTokens.toLocaleString()} tokens, $${Number(t.costUsd).toFixed(4)}` +
      (t.tokensLeft !== undefined && t.tokensLeft !== null ? ` · ${t.tokensLeft.toLocaleString()} tokens left` : "") +
      (t.costUsdLeft !== undefined && t.costUsdLeft !== null ? ` · $${Number(t.costUsdLeft).toFixed(2)} left` : "");
  }

  // ---- the run's waterfall -----------------------------------------------------------

  function ms(iso) {
    return iso ? Date.parse(iso) : null;
  }

  // Each step's attempts as the run view's `history` has them, plus the
  // attempt running now (not in the history until it ends).
  function attemptsOf(step, now) {
    const attempts = (step.history || []).map((a) => ({
      attempt: a.attempt, status: a.status, start: ms(a.startedAt),
      end: ms(a.finishedAt), error: a.error, calls: a.modelCalls || [],
    }));
    if (step.status === "RUNNING" && step.startedAt
        && !attempts.some((a) => a.start === ms(step.startedAt))) {
      attempts.push({ attempt: step.attempts, status: "RUNNING", start: ms(step.startedAt), end: now, calls: [] });
    }
    if (!attempts.length && step.startedAt && step.status !== "PENDING") {
      // A record from before attempts were kept: one bar from its times.
      attempts.push({
        attempt: step.attempts, status: step.status, start: ms(step.startedAt),
        end: ms(step.finishedAt) || now, error: step.error, calls: [],
      });
    }
    return attempts;
  }

  function attemptClass(a) {
    if (a.status === "COMPLETED") return "a-completed";
    if (a.status === "RETRYING" || a.status === "RATE_LIMITED") return "a-retry";
    if (a.status === "LOST") return "a-lost";
    if (a.status === "RUNNING") return "a-running";
    return "a-failed";
  }

  function renderWaterfall(run) {
    const container = $("waterfall-chart");
    // The axis ends now while the run moves; at its end (or its wait) once it has stopped.
    const now = TERMINAL.has(run.status) || run.status === "WAITING" ? null : Date.now();
    const rows = run.steps.map((step) => ({ step, attempts: attemptsOf(step, now || Date.now()) }));
    const times = [];
    for (const { attempts } of rows) {
      for (const a of attempts) {
        times.push(a.start);
        if (a.end) times.push(a.end);
        for (const c of a.calls) times.push(ms(c.startedAt), ms(c.finishedAt));
      }
    }
    const starts = times.filter((t) => t !== null && !Number.isNaN(t));
    const t0 = Math.min(ms(run.startedAt) || Infinity, ...starts);
    let t1 = Math.max(ms(run.finishedAt) || 0, ...starts, now || 0);
    if (!Number.isFinite(t0)) {
      container.replaceChildren(Object.assign(document.createElement("p"), {
        className: "muted", textContent: "No step has started yet.",
      }));
      return;
    }
    if (t1 <= t0) t1 = t0 + 1;
    const span = t1 - t0;
    // A bar is at least 0.4% wide (an instant stays visible) and never runs off the end.
    const w = (a, b) => Math.max(((b - a) / span) * 100, 0.4);
    const x = (t, width = 0) => Math.min(((t - t0) / span) * 100, 100 - width);
    const list = document.createElement("div");
    list.className = "wf-rows";
    // The time axis: start, middle, end.
    const axis = document.createElement("div");
    axis.className = "wf-axis";
    axis.append(document.createElement("span"));
    const ticks = document.createElement("div");
    ticks.className = "wf-ticks";
    for (const f of [0, 0.5, 1]) {
      const tick = document.createElement("span");
      tick.textContent = f === 0 ? "0 s" : duration(Math.round(span * f));
      tick.className = f === 0 ? "first" : f === 1 ? "last" : "mid";
      ticks.append(tick);
    }
    axis.append(ticks);
    list.append(axis);
    for (const { step, attempts } of rows) {
      const row = document.createElement("div");
      row.className = "wf-row";
      row.dataset.step = step.id;
      const label = document.createElement("span");
      label.className = "wf-label mono";
      label.textContent = step.id;
      if (attempts.length > 1) {
        const more = document.createElement("small");
        more.textContent = ` ×${attempts.length}`;
        label.append(more);
      }
      const track = svg("svg", { class: "wf-track", width: "100%", height: 22, role: "img" });
      const said = [];
      for (const a of attempts) {
        const end = a.end || (now || t1);
        const bar = svg("rect", {
          x: pct(x(a.start, w(a.start, end))), width: pct(w(a.start, end)), y: 2, height: 18, rx: 2,
          class: `attempt ${attemptClass(a)}`, "data-attempt": a.attempt, "data-status": a.status,
        }, track);
        const text = `${step.id} attempt ${a.attempt}: ${a.status}, ${a.end ? duration(a.end - a.start) : "no end recorded"}` +
          (a.error ? ` — ${a.error}` : "");
        titled(bar, text);
        said.push(`attempt ${a.attempt} ${a.status.toLowerCase()}`);
        a.calls.forEach((c, i) => {
          const cs = ms(c.startedAt);
          const ce = ms(c.finishedAt) || cs;
          const call = svg("rect", {
            x: pct(x(cs, w(cs, ce))), width: pct(w(cs, ce)), y: 8, height: 6, rx: 1,
            class: `call${c.error ? " call-failed" : ""}`, "data-attempt": a.attempt, "data-call": i,
          }, track);
          const tokens = (c.promptTokens || 0) + (c.completionTokens || 0);
          titled(call, `model call ${c.model || ""}: ${duration(c.durationMs ?? ce - cs)}` +
            (tokens ? `, ${tokens.toLocaleString()} tokens` : "") +
            (c.retryReason ? `, asked again (${c.retryReason})` : "") + (c.error ? ` — ${c.error}` : ""));
        });
      }
      track.setAttribute("aria-label", `${step.id}: ${said.join(", ") || "not started"}`);
      row.append(label, track);
      list.append(row);
    }
    container.replaceChildren(list);
  }

  function traceLink(run) {
    const dd = $("run-trace");
    dd.replaceChildren();
    if (!run.traceId) {
      dd.textContent = "—";
      return;
    }
    const project = document.querySelector('meta[name="genjobs-trace-project"]').content;
    const code = document.createElement("code");
    code.textContent = run.traceId;
    if (!project) {
      dd.append(code);
      return;
    }
    const link = document.createElement("a");
    link.id = "trace-link";
    link.href = `https://console.cloud.google.com/traces/list?project=${encodeURIComponent(project)}` +
      `&tid=${encodeURIComponent(run.traceId)}`;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = "Open in Cloud Trace";
    dd.append(link, " ", code);
  }

  // ---- what each step read and returned ------------------------------------------------

  // Open by default up to this size; larger ones start collapsed.
  const OPEN_BYTES = 2000;

  function jsonBlock(value) {
    const pre = document.createElement("pre");
    pre.className = "json";
    pre.textContent = JSON.stringify(value, null, 2);
    return pre;
  }

  function dataPanel(key, summaryText, bytes, body) {
    const details = document.createElement("details");
    details.dataset.key = key;
    const remembered = state.panels.get(key);
    details.open = remembered === undefined ? bytes <= OPEN_BYTES : remembered;
    details.addEventListener("toggle", () => state.panels.set(key, details.open));
    const summary = document.createElement("summary");
    summary.append(...summaryText);
    details.append(summary, ...body);
    return details;
  }

  function size(bytes) {
    return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} kB`;
  }

  async function loadOutputs(runId) {
    let data;
    try {
      data = await api("GET", `/v1/runs/${encodeURIComponent(runId)}/outputs`);
    } catch (_) {
      return; // the run view's own stream reports a missing run or a bad token
    }
    if (state.runId !== runId) return;
    state.outputs = data;
    renderOutputs();
  }

  function renderOutputs() {
    const data = state.outputs;
    const list = $("step-data-list");
    if (!data) {
      list.replaceChildren();
      return;
    }
    const views = new Map(((state.run && state.run.steps) || []).map((s) => [s.id, s]));
    const panels = [];
    const inputText = JSON.stringify(data.input);
    panels.push(dataPanel("input", [`Run input · ${size(inputText.length)}`], inputText.length, [jsonBlock(data.input)]));
    for (const step of data.steps) {
      const view = views.get(step.id) || {};
      const repairs = view.repairs || [];
      const head = [document.createElement("code")];
      head[0].textContent = step.id;
      head.push(` · ${step.output === undefined || step.output === null ? "no output yet" : `output ${size(step.outputBytes)}`}`);
      if (repairs.length) {
        const mark = document.createElement("span");
        mark.className = "badge repaired";
        mark.textContent = `${repairs.length} repair${repairs.length === 1 ? "" : "s"}`;
        head.push(" ", mark);
      }
      const body = [];
      const reads = document.createElement("p");
      reads.className = "muted";
      reads.textContent = step.reads.length
        ? `Input: the run's input and the output of ${step.reads.join(", ")}.`
        : "Input: the run's input.";
      body.push(reads);
      if (repairs.length) {
        const p = document.createElement("p");
        p.className = "repairs";
        p.textContent = "The model's answer was repaired before it was committed:";
        const ul = document.createElement("ul");
        ul.className = "repairs";
        for (const r of repairs) {
          const li = document.createElement("li");
          li.textContent = r;
          ul.append(li);
        }
        body.push(p, ul);
      }
      if (step.output !== undefined && step.output !== null) body.push(jsonBlock(step.output));
      const panel = dataPanel(`step:${step.id}`, head, step.outputBytes, body);
      panel.dataset.step = step.id;
      panels.push(panel);
    }
    list.replaceChildren(...panels);
  }

  // Outputs are fetched again only when a step has newly completed.
  function outputsChanged(run) {
    const done = run.steps.filter((s) => s.status === "COMPLETED" || s.status === "FAILED")
      .map((s) => `${s.id}:${s.status}:${s.attempts}`).join(",");
    if (done === state.outputsKey) return false;
    state.outputsKey = done;
    return true;
  }

  // ---- items as the model writes them (item / reset / final events) -------------------

  function itemText(item) {
    if (item === null || typeof item !== "object") return String(item);
    const name = item.title || item.name || item.sessionTitle || item.heading;
    const rest = item.description || item.summary || item.content;
    if (name) return rest ? `${name} — ${String(rest).slice(0, 160)}` : String(name);
    return JSON.stringify(item).slice(0, 200);
  }

  function liveItem(event, data) {
    const entry = state.items.get(data.step) || { attempt: 0, items: new Map(), final: false, note: "" };
    if (event === "item") {
      if (entry.final) return;
      if (data.attempt > entry.attempt) {
        entry.attempt = data.attempt;
        entry.items = new Map();
      }
      if (data.attempt === entry.attempt) entry.items.set(data.index, data.item);
    } else if (event === "reset") {
      if (data.attempt >= entry.attempt) {
        entry.attempt = data.attempt;
        entry.items = new Map();
        entry.note = `Attempt ${data.attempt}'s items withdrawn${data.reason ? `: ${data.reason}` : ""}.`;
      }
    } else if (event === "final") {
      entry.final = true;
      entry.items = new Map(data.items.map((item, i) => [i, item]));
      entry.note = "";
    }
    state.items.set(data.step, entry);
    renderItems();
  }

  function renderItems() {
    const section = $("live-items");
    const blocks = [];
    for (const [step, entry] of state.items) {
      const block = document.createElement("div");
      block.className = "item-step";
      block.dataset.step = step;
      const h = document.createElement("h4");
      const code = document.createElement("code");
      code.textContent = step;
      h.append(code, entry.final ? " · committed" : ` · attempt ${entry.attempt}, writing…`);
      block.append(h);
      if (entry.note) {
        const p = document.createElement("p");
        p.className = "muted reset-note";
        p.textContent = entry.note;
        block.append(p);
      }
      const ol = document.createElement("ol");
      for (const index of [...entry.items.keys()].sort((a, b) => a - b)) {
        const li = document.createElement("li");
        li.dataset.index = String(index);
        li.className = entry.final ? "committed" : "provisional";
        li.textContent = itemText(entry.items.get(index));
        ol.append(li);
      }
      block.append(ol);
      blocks.push(block);
    }
    $("live-items-list").replaceChildren(...blocks);
    section.hidden = blocks.length === 0;
  }

  // ---- one run, live -------------------------------------------------------------

  function renderRun(run) {
    state.run = run;
    $("run-id").textContent = run.runId;
    $("run-workflow").textContent = run.workflow;
    const status = $("run-status");
    status.className = `badge s-${run.status.toLowerCase()}`;
    status.textContent = run.status;
    const p = run.progress || {};
    $("run-progress").textContent =
      `${p.completedSteps ?? 0} of ${p.totalSteps ?? 0} steps` +
      (p.currentStep ? ` · now ${p.currentStep}` : "") +
      (run.wait ? ` · waiting for ${run.wait.signal ? `signal ${run.wait.signal}` : "its time"}` +
        ` until ${when(run.wait.timeoutAt)}` : "");
    $("run-created").textContent = when(run.createdAt);
    $("run-started").textContent = when(run.startedAt);
    $("run-finished").textContent = when(run.finishedAt);
    $("run-deadline").textContent = when(run.deadlineAt);
    $("run-deliveries").textContent = String(run.deliveries ?? 0);
    $("run-tokens").textContent = tokens(run.usage);
    const resumes = run.resumes || [];
    $("run-resumes").textContent = resumes.length
      ? resumes.map((r) => `${when(r.at)} by ${r.by} (was ${r.previousStatus})`).join("; ")
      : "never";
    const error = $("run-error");
    error.textContent = run.error ? `Error: ${run.error}` : "";
    error.hidden = !run.error;
    $("cancel-run").hidden = TERMINAL.has(run.status);
    $("resume-run").hidden = !(state.canResume && RESUMABLE.has(run.status));
    const body = $("steps-table").tBodies[0];
    body.replaceChildren();
    for (const step of run.steps) {
      const row = document.createElement("tr");
      row.dataset.step = step.id;
      cell(row, "Step", step.id, "mono");
      cell(row, "Status", badge(step.status));
      cell(row, "Attempts", String(step.attempts));
      cell(row, "Started", when(step.startedAt));
      cell(row, "Duration", duration(step.durationMs));
      cell(row, "Tokens", tokens(step.usage));
      cell(row, "Error", step.error || "", "error-cell");
      body.append(row);
    }
    document.title = `${run.status} · run ${run.runId} · genjobs console`;
    traceLink(run);
    renderRerun(run);
    renderWaterfall(run);
    if (outputsChanged(run)) loadOutputs(run.runId);
    else renderOutputs();
  }

  function live(message) {
    $("live").textContent = message;
  }

  function stopStream() {
    if (state.stream) state.stream.abort();
    state.stream = null;
  }

  // Server-Sent Events read with fetch: EventSource cannot send an
  // Authorization header, and the token must not travel in the URL.
  async function follow(runId) {
    stopStream();
    const controller = new AbortController();
    state.stream = controller;
    let delay = 2000;
    let failures = 0;
    while (!controller.signal.aborted) {
      let ended = false;
      try {
        const extra = { Accept: "text/event-stream" };
        // Resuming: only the events after the last one seen (no loss, no duplicates).
        if (state.lastEventId !== null) extra["Last-Event-ID"] = state.lastEventId;
        const response = await fetch(`${base}/v1/runs/${encodeURIComponent(runId)}/events`, {
          headers: headers(extra),
          signal: controller.signal,
        });
        if (!response.ok) {
          const data = await response.json().catch(() => null);
          const error = new ApiError(response.status, data && data.error);
          if (response.status === 401) tokenRejected(error);
          live("");
          notice(response.status === 404 ? `Run ${runId} not found.` : `Cannot follow the run: ${error.message}`);
          return;
        }
        failures = 0;
        live("Live: following this run's changes.");
        ended = await readEvents(response.body, (event, data, id) => {
          if (controller.signal.aborted) return;
          if (id !== null) state.lastEventId = id;
          if (event === "run") renderRun(JSON.parse(data));
          if (event === "item" || event === "reset" || event === "final") liveItem(event, JSON.parse(data));
          if (event === "end") live(`Run ${JSON.parse(data).status.toLowerCase()}; live updates ended.`);
        }, (ms) => { delay = ms; });
      } catch (error) {
        if (controller.signal.aborted) return;
        failures += 1;
      }
      if (ended || controller.signal.aborted) return;
      // The server closes a stream before its request timeout: reconnect.
      const wait = Math.min(delay * 2 ** failures, 30000);
      live(failures ? "Connection lost; reconnecting…" : "Live: following this run's changes.");
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  // Parses a text/event-stream body; true if the server sent `end`.
  async function readEvents(body, onEvent, onRetry) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let ended = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return ended;
      buffer += value.replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message";
        let id = null;
        const data = [];
        for (const line of block.split("\n")) {
          if (!line || line.startsWith(":")) continue; // a keep-alive comment
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = value;
          else if (field === "data") data.push(value);
          else if (field === "id") id = value;
          else if (field === "retry" && /^\d+$/.test(value)) onRetry(Number(value));
        }
        if (data.length) {
          onEvent(event, data.join("\n"), id);
          if (event === "end") ended = true;
        }
      }
    }
  }

  async function probeResume(runId) {
    // The route exists if it refuses a GET (405) rather than not knowing it (404).
    if (state.canResume !== null) return;
    try {
      const response = await fetch(`${base}/v1/runs/${encodeURIComponent(runId)}/resume`);
      state.canResume = response.status === 405;
    } catch (_) {
      state.canResume = false;
    }
  }

  async function openRun(runId) {
    if (state.runId !== runId) {
      state.outputs = null;
      state.outputsKey = "";
      state.panels = new Map();
      state.items = new Map();
      state.lastEventId = null;
      renderItems();
      renderOutputs();
      $("waterfall-chart").replaceChildren();
    }
    state.runId = runId;
    $("run-id").textContent = runId;
    $("steps-table").tBodies[0].replaceChildren();
    live("Connecting…");
    await probeResume(runId);
    if (state.runId === runId) follow(runId); // unless the user moved on meanwhile
  }

  async function cancelRun() {
    const dialog = $("confirm-cancel");
    dialog.returnValue = "";
    dialog.showModal();
    dialog.addEventListener("close", async () => {
      if (dialog.returnValue !== "cancel") return;
      try {
        await api("POST", `/v1/runs/${encodeURIComponent(state.runId)}/cancel`);
        notice("");
        live("Cancel requested.");
      } catch (error) {
        if (error.status !== 401) notice(`Could not cancel: ${error.message}`);
      }
    }, { once: true });
  }

  async function resumeRun() {
    try {
      await api("POST", `/v1/runs/${encodeURIComponent(state.runId)}/resume`);
      notice("");
      live("Resumed: queued again.");
      follow(state.runId);
    } catch (error) {
      if (error.status !== 401) notice(`Could not resume: ${error.message}`);
    }
  }

  // ---- runs waiting for review (issue 19) --------------------------------------------

  const PROGRAMME_WORKFLOW = "programme.generate-from-concept";
  const BRAINSTORM_WORKFLOW = "brainstorm.generate-seeds";

  async function loadWaiting() {
    if (!state.token) return;
    let data;
    try {
      data = await api("GET", "/v1/runs?status=WAITING&pageSize=100");
    } catch (error) {
      if (error.status !== 401) notice(`Could not list waiting runs: ${error.message}`);
      return;
    }
    notice("");
    const body = $("review-table").tBodies[0];
    body.replaceChildren();
    for (const run of data.runs) {
      const row = document.createElement("tr");
      row.dataset.run = run.runId;
      cell(row, "Created", when(run.createdAt));
      cell(row, "Run", runLink(run.runId));
      cell(row, "Workflow", run.workflow);
      cell(row, "Started", when(run.startedAt));
      const action = document.createElement("a");
      if (run.workflow === PROGRAMME_WORKFLOW) {
        action.href = `#review=${encodeURIComponent(run.runId)}`;
        action.textContent = "Review";
      } else {
        action.href = `#run=${encodeURIComponent(run.runId)}`;
        action.textContent = "Open";
      }
      cell(row, "Action", action);
      body.append(row);
    }
    $("review-empty").hidden = data.runs.length > 0;
  }

  // The structure's fields a planner edits: each day's theme and its three focuses.
  const EDITABLE = [
    ["theme", "Theme"],
    ["morning_focus", "Morning focus"],
    ["afternoon_focus", "Afternoon focus"],
    ["evening_focus", "Evening focus"],
  ];

  async function openReview(runId) {
    const form = $("review-form");
    form.hidden = true;
    state.review = null;
    $("review-result").replaceChildren();
    let programme;
    try {
      const outputs = await api("GET", `/v1/runs/${encodeURIComponent(runId)}/outputs`);
      const programmeId = outputs.input.programmeId;
      if (!programmeId) throw new Error("this run has no programme to review");
      programme = await api("GET", `/v1/programmes/${encodeURIComponent(programmeId)}`);
    } catch (error) {
      if (error.status !== 401) notice(`Could not open the review: ${error.message}`);
      return;
    }
    if (state.reviewing !== runId) return;
    state.review = { runId, programme };
    $("review-programme").textContent = programme.programmeId;
    $("review-run-id").textContent = runId;
    const days = (programme.structure && programme.structure.days) || [];
    const blocks = days.map((day, i) => {
      const fieldset = document.createElement("fieldset");
      fieldset.className = "review-day";
      fieldset.dataset.day = String(day.day_number);
      const legend = document.createElement("legend");
      legend.textContent = `Day ${day.day_number}`;
      fieldset.append(legend);
      for (const [name, label] of EDITABLE) {
        const id = `review-${i}-${name}`;
        const l = document.createElement("label");
        l.htmlFor = id;
        l.textContent = label;
        const input = document.createElement(name === "theme" ? "input" : "textarea");
        input.id = id;
        input.name = `${i}.${name}`;
        input.value = day[name] || "";
        if (name !== "theme") input.rows = 2;
        fieldset.append(l, input);
      }
      return fieldset;
    });
    $("review-days").replaceChildren(...blocks);
    const waiting = programme.status === "AWAITING_REVIEW";
    $("review-approve").disabled = !waiting;
    $("review-reject").disabled = !waiting;
    if (!waiting) {
      const p = document.createElement("p");
      p.textContent = `This programme is ${programme.status}: there is nothing to review.`;
      $("review-result").append(p);
    }
    form.hidden = false;
  }

  function editedStructure() {
    const original = state.review.programme.structure;
    const days = original.days.map((day) => ({ ...day }));
    let changed = false;
    for (const el of $("review-days").querySelectorAll("input, textarea")) {
      const [i, name] = el.name.split(".");
      if (days[Number(i)][name] !== el.value) {
        days[Number(i)][name] = el.value;
        changed = true;
      }
    }
    return changed ? { ...original, days } : null;
  }

  async function sendReview(decision) {
    const review = state.review;
    if (!review) return;
    const result = $("review-result");
    result.replaceChildren();
    const body = { decision };
    if (decision === "approve") {
      const structure = editedStructure();
      if (structure) body.structure = structure;
    }
    for (const id of ["review-approve", "review-reject"]) $(id).disabled = true;
    try {
      await api("POST", `/v1/runs/${encodeURIComponent(review.runId)}/signals/review`, body);
      location.hash = `run=${encodeURIComponent(review.runId)}`;
    } catch (error) {
      showRefusal(result, error, error.status === 409 ? "Already decided: " : "");
      for (const id of ["review-approve", "review-reject"]) $(id).disabled = error.status === 409;
    }
  }

  function showRefusal(result, error, prefix) {
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = prefix + (error.details.length ? "The API refused it:" : error.message);
    result.append(p);
    if (error.details.length) {
      const list = document.createElement("ul");
      for (const detail of error.details) {
        const item = document.createElement("li");
        item.textContent = `${detail.field}: ${detail.message}`;
        list.append(item);
      }
      result.append(list);
    }
  }

  // ---- regenerate: rerun from a step (issue 20) ---------------------------------------

  function renderRerun(run) {
    const form = $("rerun-form");
    // The api refuses a rerun while the source runs (409): offered once it has ended.
    form.hidden = !TERMINAL.has(run.status);
    const links = $("run-links");
    links.replaceChildren();
    if (run.rerunOf) links.append(`Regenerated from run `, runLink(run.rerunOf), run.rerunFrom ? ` (from ${run.rerunFrom}). ` : ". ");
    if (run.reruns && run.reruns.length) {
      links.append("Regenerated as: ");
      run.reruns.forEach((id, i) => links.append(...(i ? [", "] : []), runLink(id)));
      links.append(".");
    }
    links.hidden = links.childNodes.length === 0;
    $("review-run").hidden = !(run.status === "WAITING" && run.workflow === PROGRAMME_WORKFLOW);
    $("review-run").href = `#review=${encodeURIComponent(run.runId)}`;
    if (form.hidden) return;
    const select = $("rerun-step");
    const steps = run.steps.map((s) => s.id).filter((id) => !id.includes("{"));
    const current = select.dataset.run === run.runId ? select.value : null;
    if (select.dataset.steps !== steps.join(",")) {
      select.replaceChildren(...steps.map((id) => new Option(id, id)));
      select.dataset.steps = steps.join(",");
    }
    if (current && steps.includes(current)) select.value = current;
    else {
      const model = run.steps.find((s) => s.usage && s.usage.totalTokens !== undefined && !s.id.includes("{"));
      if (model) select.value = model.id;
    }
    select.dataset.run = run.runId;
    $("rerun-temp-field").hidden = run.workflow !== BRAINSTORM_WORKFLOW;
  }

  async function submitRerun(event) {
    event.preventDefault();
    const result = $("rerun-result");
    result.replaceChildren();
    let input = {};
    const text = $("rerun-input").value.trim();
    if (text) {
      try {
        input = JSON.parse(text);
      } catch (_) {
        input = null;
      }
      if (input === null || typeof input !== "object" || Array.isArray(input)) {
        showRefusal(result, new ApiError(0, { message: "Input overrides must be a JSON object." }), "");
        $("rerun-input").setAttribute("aria-invalid", "true");
        return;
      }
    }
    $("rerun-input").removeAttribute("aria-invalid");
    const temp = $("rerun-temp").value;
    if (!$("rerun-temp-field").hidden && temp !== "") input.creativityTemp = Number(temp);
    const button = $("rerun-form").querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const started = await api("POST", `/v1/runs/${encodeURIComponent(state.runId)}/rerun`, {
        fromStep: $("rerun-step").value, input,
      });
      $("rerun-input").value = "";
      $("rerun-temp").value = "";
      location.hash = `run=${encodeURIComponent(started.runId)}`;
    } catch (error) {
      if (error.status !== 401) showRefusal(result, error, "");
    } finally {
      button.disabled = false;
    }
  }

  // ---- start forms -----------------------------------------------------------------

  function formBody(form) {
    const body = {};
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.type === "checkbox") body[el.name] = el.checked;
      else if (el.type === "number") body[el.name] = el.value === "" ? undefined : Number(el.value);
      else if (el.value.trim() !== "") body[el.name] = el.value;
      // An empty optional text field is "not given": it is left out.
    }
    return body;
  }

  const STARTS = {
    brainstorm: (form) => ["/v1/brainstorm-sessions", formBody(form)],
    project: (form) => ["/v1/project-sessions", formBody(form)],
    programme: (form) => [
      `/v1/projects/${encodeURIComponent(form.elements.projectId.value.trim())}/programme`,
      undefined,
    ],
  };

  async function submitStart(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const result = form.querySelector(".form-result");
    for (const el of form.elements) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    }
    result.replaceChildren();
    const [path, body] = STARTS[form.dataset.kind](form);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const started = await api("POST", path, body);
      location.hash = `run=${encodeURIComponent(started.runId)}`;
    } catch (error) {
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = error.details.length ? "The API refused these answers:" : error.message;
      result.append(p);
      if (error.details.length) {
        const list = document.createElement("ul");
        for (const detail of error.details) {
          const item = document.createElement("li");
          item.textContent = `${detail.field}: ${detail.message}`;
          list.append(item);
          const field = form.elements[detail.field];
          if (field && field.setAttribute) {
            field.setAttribute("aria-invalid", "true");
            field.setAttribute("aria-describedby", result.id);
          }
        }
        result.append(list);
      }
    } finally {
      button.disabled = false;
    }
  }

  // ---- navigation --------------------------------------------------------------------

  const VIEWS = ["runs-view", "run-view", "review-view", "usage-view", "start-view"];
  const NAV = [
    ["nav-runs", "runs-view"], ["nav-review", "review-view"],
    ["nav-usage", "usage-view"], ["nav-start", "start-view"],
  ];

  function show(view) {
    for (const id of VIEWS) $(id).hidden = id !== view;
    for (const [id, target] of NAV) {
      if (target === view) $(id).setAttribute("aria-current", "page");
      else $(id).removeAttribute("aria-current");
    }
  }

  function route(focus) {
    takeTokenFromFragment();
    const params = new URLSearchParams(location.hash.slice(1));
    const runId = params.get("run");
    if (runId) {
      show("run-view");
      openRun(runId);
      if (focus) $("run-title").focus();
      return;
    }
    state.runId = null;
    stopStream();
    document.title = "genjobs console";
    if (params.has("review")) {
      show("review-view");
      loadWaiting();
      const reviewing = params.get("review");
      state.reviewing = reviewing || null;
      if (reviewing) openReview(reviewing);
      else $("review-form").hidden = true;
      if (focus) $("review-title").focus();
      return;
    }
    if (params.has("usage")) {
      show("usage-view");
      loadUsage();
      if (focus) $("usage-title").focus();
      return;
    }
    if (params.has("start")) {
      show("start-view");
      if (focus) $("start-title").focus();
      return;
    }
    show("runs-view");
    loadRuns();
    loadHourly();
    if (focus) $("runs-title").focus();
  }

  function init() {
    takeTokenFromFragment();
    $("token").value = state.token;
    showToken();
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      setToken($("token").value);
      notice("");
      loadWorkflows();
      route(false);
    });
    $("token-forget").addEventListener("click", () => {
      setToken("");
      stopStream();
    });
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      state.pages = [null];
      state.page = 0;
      loadRuns();
    });
    $("prev-page").addEventListener("click", () => {
      state.page = Math.max(0, state.page - 1);
      loadRuns();
    });
    $("next-page").addEventListener("click", () => {
      state.page += 1;
      loadRuns();
    });
    $("cancel-run").addEventListener("click", cancelRun);
    $("resume-run").addEventListener("click", resumeRun);
    $("rerun-form").addEventListener("submit", submitRerun);
    $("review-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sendReview("approve");
    });
    $("review-reject").addEventListener("click", () => {
      const dialog = $("confirm-reject");
      dialog.returnValue = "";
      dialog.showModal();
      dialog.addEventListener("close", () => {
        if (dialog.returnValue === "reject") sendReview("reject");
      }, { once: true });
    });
    for (const form of document.querySelectorAll("form.start")) {
      form.addEventListener("submit", submitStart);
    }
    window.addEventListener("hashchange", () => route(true));
    // A running attempt's bar grows with the clock between the stream's events.
    setInterval(() => {
      const run = state.run;
      const moving = run && !TERMINAL.has(run.status) && run.status !== "WAITING";
      if (moving && state.runId === run.runId && !$("run-view").hidden) {
        renderWaterfall(run);
      }
    }, 1000);
    loadWorkflows();
    route(false);
    document.documentElement.dataset.ready = "true";
  }

  init();
})();
