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
      const link = document.createElement("a");
      link.href = `#run=${encodeURIComponent(run.runId)}`;
      link.textContent = run.runId;
      link.className = "mono";
      cell(row, "Run", link);
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
      (p.currentStep ? ` · now ${p.currentStep}` : "");
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
        const response = await fetch(`${base}/v1/runs/${encodeURIComponent(runId)}/events`, {
          headers: headers({ Accept: "text/event-stream" }),
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
        ended = await readEvents(response.body, (event, data) => {
          if (event === "run") renderRun(JSON.parse(data));
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
        const data = [];
        for (const line of block.split("\n")) {
          if (!line || line.startsWith(":")) continue; // a keep-alive comment
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = value;
          else if (field === "data") data.push(value);
          else if (field === "retry" && /^\d+$/.test(value)) onRetry(Number(value));
        }
        if (data.length) {
          onEvent(event, data.join("\n"));
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

  function show(view) {
    for (const id of ["runs-view", "run-view", "start-view"]) $(id).hidden = id !== view;
    for (const [id, target] of [["nav-runs", "runs-view"], ["nav-start", "start-view"]]) {
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
    if (params.has("start")) {
      show("start-view");
      if (focus) $("start-title").focus();
      return;
    }
    show("runs-view");
    loadRuns();
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
    for (const form of document.querySelectorAll("form.start")) {
      form.addEventListener("submit", submitStart);
    }
    window.addEventListener("hashchange", () => route(true));
    loadWorkflows();
    route(false);
    document.documentElement.dataset.ready = "true";
  }

  init();
})();
