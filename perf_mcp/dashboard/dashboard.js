// The perf-mcp dashboard: polls /api/v1/ every few seconds (not while the tab is hidden) and
// draws plain SVG. Data only ever reaches the page as text (textContent), never as markup.
"use strict";

const POLL_MS = 5000;
const SVG = "http://www.w3.org/2000/svg";
const TOKEN_KEY = "perf-mcp-token";  // sessionStorage: this tab only, gone when it closes
const state = { window: "1h", sort: "p95_ms", detail: null, timer: null, locked: false };

const $ = (id) => document.getElementById(id);
const fmt = (v, digits = 1) =>
  v === null || v === undefined ? "–" : Number(v).toLocaleString(undefined, { maximumFractionDigits: digits });
const pct = (v) => (v === null || v === undefined ? "–" : `${fmt(v * 100)}%`);

class NeedsToken extends Error {}

async function api(path, options = {}) {
  if (window.perfMcpApi) return window.perfMcpApi(path, options);  // inside an MCP App (app.js)
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { ...options.headers, ...(token ? { Authorization: `Bearer ${token}` } : {}) };
  const answer = await fetch(`/api/v1/${path}`, { ...options, headers });
  if (answer.status === 401) {
    askForToken(token !== null);
    throw new NeedsToken("this server needs a token");
  }
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.detail || `${answer.status}`);
  return body;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function row(cells) {
  const tr = el("tr");
  cells.forEach((c) => tr.append(el("td", c)));
  return tr;
}

// ---------------------------------------------------------------- charts

function chart(svg, starts, series, { max = null, percent = false } = {}) {
  const width = svg.clientWidth || 320;
  const height = svg.clientHeight || 140;
  const pad = { l: 40, r: 6, t: 6, b: 16 };
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const values = series.flat().filter((v) => v !== null);
  const top = max ?? Math.max(1e-9, ...values) * 1.1;
  const x = (i) => pad.l + (i * (width - pad.l - pad.r)) / Math.max(1, starts.length - 1);
  const y = (v) => pad.t + (1 - v / top) * (height - pad.t - pad.b);
  const axis = document.createElementNS(SVG, "path");
  axis.setAttribute("class", "axis");
  axis.setAttribute("d", `M${pad.l},${pad.t}V${height - pad.b}H${width - pad.r}`);
  svg.append(axis);
  const label = (text, lx, ly, anchor) => {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", lx);
    t.setAttribute("y", ly);
    t.setAttribute("text-anchor", anchor);
    t.textContent = text;
    svg.append(t);
  };
  label(percent ? `${fmt(top * 100, 0)}%` : fmt(top, top < 10 ? 2 : 0), pad.l - 4, pad.t + 8, "end");
  label("0", pad.l - 4, height - pad.b, "end");
  if (starts.length) {
    const time = (s) => new Date(s * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    label(time(starts[0]), pad.l, height - 2, "start");
    label(time(starts[starts.length - 1]), width - pad.r, height - 2, "end");
  }
  series.forEach((points, n) => {
    let d = "";
    let pen = "M";
    points.forEach((v, i) => {
      if (v === null) { pen = "M"; return; }
      d += `${pen}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = "L";
    });
    if (!d) return;
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("class", `s${n}`);
    path.setAttribute("d", d);
    svg.append(path);
    // A point with no neighbour draws no line: show it as a dot.
    points.forEach((v, i) => {
      if (v === null || (points[i - 1] ?? null) !== null || (points[i + 1] ?? null) !== null) return;
      const dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("class", `s${n}`);
      dot.setAttribute("cx", x(i).toFixed(1));
      dot.setAttribute("cy", y(v).toFixed(1));
      dot.setAttribute("r", "3");
      svg.append(dot);
    });
  });
  svg.dataset.drawn = values.length ? "yes" : "empty";
}

function latencyChart(svg, timeline) {
  const p = timeline.points;
  chart(svg, p.map((q) => q.start), [p.map((q) => q.p50_ms), p.map((q) => q.p95_ms), p.map((q) => q.p99_ms)]);
}

// ---------------------------------------------------------------- sections

function drawTotals(summary) {
  const r = summary.requests, a = summary.agents, t = summary.tools;
  const cards = [
    ["requests", fmt(r.count, 0)], ["req/s", fmt(r.requests_per_s, 2)],
    ["5xx rate", pct(r.error_rate)], ["p95 ms", fmt(r.p95_ms)],
    ["agent runs", fmt(a.runs, 0)], ["tool calls", fmt(t.calls, 0)],
  ];
  $("totals").replaceChildren(...cards.map(([name, value]) => {
    const card = el("div", undefined, "card");
    card.append(el("b", value), el("span", name));
    return card;
  }));
}

function drawRequests(timeline) {
  const p = timeline.points, starts = p.map((q) => q.start);
  chart($("chart-rate"), starts, [p.map((q) => q.per_s)]);
  chart($("chart-errors"), starts, [p.map((q) => q.error_rate)], { max: 1, percent: true });
  latencyChart($("chart-latency"), timeline);
}

function drawEndpoints(list) {
  $("endpoints-empty").hidden = list.endpoints.length > 0;
  $("endpoints").hidden = list.endpoints.length === 0;
  document.querySelectorAll("#endpoints th button").forEach((b) =>
    b.setAttribute("aria-pressed", String(b.dataset.sort === state.sort)));
  $("endpoints").querySelector("tbody").replaceChildren(...list.endpoints.map((e) => {
    const tr = row([`${e.method} ${e.endpoint}`, fmt(e.count, 0), fmt(e.error_count, 0),
      fmt(e.p50_ms), fmt(e.p95_ms), fmt(e.p99_ms)]);
    tr.className = "link";
    tr.tabIndex = 0;
    tr.dataset.endpoint = e.endpoint;
    const open = () => { state.detail = { endpoint: e.endpoint, method: e.method }; refresh(); };
    tr.addEventListener("click", open);
    tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") open(); });
    return tr;
  }));
}

async function drawDetail() {
  const section = $("detail");
  if (!state.detail) { section.hidden = true; return; }
  const { endpoint, method } = state.detail;
  const q = new URLSearchParams({ endpoint, method, window: state.window });
  const detail = await api(`endpoint?${q}`);
  section.hidden = false;
  $("detail-title").textContent = `${method} ${endpoint}`;
  const s = detail.stats[0];
  $("detail-stats").textContent = s
    ? `${fmt(s.count, 0)} requests · ${fmt(s.requests_per_s, 2)}/s · status ` +
      Object.entries(s.status_counts).map(([k, v]) => `${k}: ${v}`).join(", ")
    : "No requests in this window.";
  latencyChart($("chart-detail"), detail.timeline);
  const slow = detail.slowest_requests.map((r) =>
    el("li", `${fmt(r.duration_ms)} ms · ${r.status_code} · ${new Date(r.timestamp * 1000).toLocaleString()}`));
  $("detail-slowest").replaceChildren(...(slow.length ? slow : [el("li", "None among the slowest requests kept.")]));
}

function errorsText(top) {
  return top.map((e) => `${e.name} (${e.count})`).join(", ") || "–";
}

function drawAgents(list) {
  $("agents-empty").hidden = list.agents.length > 0;
  $("agents").hidden = list.agents.length === 0;
  $("agents").querySelector("tbody").replaceChildren(...list.agents.map((a) => row([
    a.agent_name, fmt(a.runs, 0), pct(a.success_rate), fmt(a.p95_ms),
    fmt((a.input_tokens || 0) + (a.output_tokens || 0), 0), fmt(a.cost_usd, 4), errorsText(a.top_errors),
  ])));
}

function drawTools(list) {
  $("tools-empty").hidden = list.tools.length > 0;
  $("tools").hidden = list.tools.length === 0;
  $("tools").querySelector("tbody").replaceChildren(...list.tools.map((t) => row([
    t.tool_name, fmt(t.calls, 0), pct(t.success_rate), fmt(t.p95_ms), errorsText(t.top_errors),
  ])));
}

function drawMachine(machine) {
  const has = machine.points.some((p) => p.some((v) => v !== null));
  $("machine-empty").hidden = has;
  const starts = machine.points.map((_, i) => machine.start + i * machine.step_s);
  const series = machine.metrics.map((_, j) => machine.points.map((p) => p[j]));
  chart($("chart-machine"), starts, series, { max: 100 });
}

function drawAlerts(list) {
  $("alerts-empty").hidden = list.alerts.length > 0;
  $("alerts").replaceChildren(...list.alerts.map((a) => {
    const li = el("li");
    li.dataset.alertId = a.id;
    li.append(el("span", a.severity, `sev-${a.severity}`), el("span", a.message || `${a.threshold} ${a.subject}`),
      el("span", a.state, `state-${a.state}`));
    if (a.state === "firing") {
      const ack = el("button", "Acknowledge");
      ack.type = "button";
      ack.addEventListener("click", async () => {
        ack.disabled = true;
        try {
          await api(`alerts/${a.id}/acknowledge`, {
            method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
          });
          await refresh();
        } catch (err) {
          ack.disabled = false;
          $("status").textContent = `Could not acknowledge: ${err.message}`;
        }
      });
      li.append(ack);
    }
    return li;
  }));
}

// ---------------------------------------------------------------- the token

// A server started with --token answers /api/v1/ only to the bearer of a token: ask once,
// keep it for this tab, and send it as an Authorization header (never in a URL).
function askForToken(refused) {
  if (refused) sessionStorage.removeItem(TOKEN_KEY);
  state.locked = true;
  $("login-refused").hidden = !refused;
  $("login").hidden = false;
  $("token").focus();
}

function useToken(ev) {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  $("login").hidden = true;
  state.locked = false;
  refresh();
}

// ---------------------------------------------------------------- polling

async function refresh() {
  if (state.locked) return;
  const w = state.window;
  try {
    const [summary, requests, endpoints, agents, tools, machine, alerts] = await Promise.all([
      api(`summary?window=${w}`), api(`series?kind=request&window=${w}`),
      api(`endpoints?window=${w}&sort_by=${state.sort}`), api(`agents?window=${w}`),
      api(`tools?window=${w}`), api(`resources?window=${w}`), api(`alerts?window=${w}&status=all`),
    ]);
    drawTotals(summary);
    drawRequests(requests);
    drawEndpoints(endpoints);
    drawAgents(agents);
    drawTools(tools);
    drawMachine(machine);
    drawAlerts(alerts);
    await drawDetail();
    $("status").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    $("status").textContent = err instanceof NeedsToken ? "Waiting for a token"
      : `Cannot reach the server: ${err.message}`;
  }
}

function schedule() {
  clearInterval(state.timer);
  state.timer = document.hidden ? null : setInterval(refresh, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  $("window").value = state.window;
  $("window").addEventListener("change", (ev) => { state.window = ev.target.value; refresh(); });
  document.querySelectorAll("#endpoints th button").forEach((b) =>
    b.addEventListener("click", () => { state.sort = b.dataset.sort; refresh(); }));
  $("login").addEventListener("submit", useToken);
  $("detail-close").addEventListener("click", () => { state.detail = null; $("detail").hidden = true; });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); schedule(); });
  refresh();
  schedule();
});
