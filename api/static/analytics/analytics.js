// The SLA page: charts drawn as inline SVG from GET /v1/analytics/sla (no chart library).
import { agentToken, api, ApiError, el, fill } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
// Okabe–Ito colours: told apart with the common colour-vision deficiencies
const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function chart(width, height, label) {
  return svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / step) * step;
}

function legend(names) {
  // an SVG swatch: the page's policy allows no inline style attributes
  return el("ul", { class: "legend" }, names.map((name, i) => el("li", {},
    svg("svg", { class: "swatch", width: 12, height: 12, viewBox: "0 0 12 12", "aria-hidden": "true" },
      svg("rect", { width: 12, height: 12, rx: 2, fill: COLOURS[i % COLOURS.length] })),
    name)));
}

function dataTable(caption, head, body) {
  return el("details", {}, el("summary", {}, "Show the numbers"), el("div", { class: "table-wrap" },
    el("table", {}, el("caption", { class: "sr-only" }, caption),
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, body.map((row) => el("tr", {}, row.map((cell) => el("td", {}, cell))))))));
}

function empty(figure, text = "No data for this period yet.") {
  fill(figure.querySelector(".body"), el("p", { class: "muted" }, text));
}

function pct(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`;
}

function lineChart(figure, weeks, series, label) {
  const W = 560, H = 260, L = 44, R = 24, T = 12, B = 40;
  const plotW = W - L - R, plotH = H - T - B;
  const x = (i) => L + (weeks.length === 1 ? plotW / 2 : (i * plotW) / (weeks.length - 1));
  const y = (v) => T + plotH - v * plotH;
  const root = chart(W, H, label);
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    root.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(tick), y2: y(tick) }),
      svg("text", { x: L - 6, y: y(tick) + 4, "text-anchor": "end" }, `${tick * 100}%`));
  }
  const every = Math.max(1, Math.ceil(weeks.length / 8));
  weeks.forEach((week, i) => {
    if (i % every === 0) root.append(svg("text", { x: x(i), y: H - B + 16, "text-anchor": "middle" }, week.slice(5)));
  });
  root.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: y(0), y2: y(0) }));
  series.forEach((s, n) => {
    const colour = COLOURS[n % COLOURS.length];
    const points = s.values.map((v, i) => (v === null ? null : [x(i), y(v)]));
    let path = "";
    let pen = false;
    for (const p of points) {
      if (!p) { pen = false; continue; }
      path += `${pen ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)}`;
      pen = true;
    }
    root.append(svg("path", { d: path, fill: "none", stroke: colour, "stroke-width": 2.5, "data-series": s.name }));
    points.forEach((p, i) => {
      if (p) root.append(svg("circle", { cx: p[0], cy: p[1], r: 3.5, fill: colour },
        svg("title", {}, `${s.name}, week of ${weeks[i]}: ${pct(s.values[i])}`)));
    });
  });
  root.append(svg("text", { x: L, y: H - 4 }, "week of (order placed)"));
  return root;
}

function barChart(label, groups, seriesNames, unit) {
  // groups: [{name, values: [..per series]}]; horizontal bars, one row per group and series
  const rowH = 16, gap = 10, L = 110, R = 50, T = 8;
  const H = T + groups.length * (seriesNames.length * rowH + gap) + 20;
  const W = 560;
  const max = niceMax(Math.max(0, ...groups.flatMap((g) => g.values.filter((v) => v !== null))));
  const scale = (v) => ((W - L - R) * v) / max;
  const root = chart(W, H, label);
  let top = T;
  for (const group of groups) {
    root.append(svg("text", { x: L - 6, y: top + (seriesNames.length * rowH) / 2 + 4, "text-anchor": "end" }, group.name));
    group.values.forEach((value, n) => {
      const colour = COLOURS[n % COLOURS.length];
      const width = value === null ? 0 : Math.max(1, scale(value));
      root.append(svg("rect", { x: L, y: top + n * rowH + 1, width, height: rowH - 3, fill: colour, "data-group": group.name },
        svg("title", {}, `${group.name} ${seriesNames[n] || ""}: ${value === null ? "no data" : value.toFixed(1)} ${unit}`)));
      root.append(svg("text", { x: L + width + 4, y: top + n * rowH + rowH - 5 }, value === null ? "—" : value.toFixed(1)));
    });
    top += seriesNames.length * rowH + gap;
  }
  root.append(svg("line", { class: "axis", x1: L, x2: L, y1: T - 4, y2: top - gap + 4 }));
  return root;
}

function drawOnTime(byWeek) {
  const figure = $("chart-on-time");
  const rows = byWeek.filter((r) => r.on_time_vs_promise !== null);
  if (!rows.length) return empty(figure);
  const weeks = [...new Set(byWeek.map((r) => r.week))].sort();
  const carriers = [...new Set(byWeek.map((r) => r.carrier || "?"))].sort();
  const series = carriers.map((name) => ({
    name,
    values: weeks.map((w) => {
      const row = byWeek.find((r) => (r.carrier || "?") === name && r.week === w);
      return row && row.on_time_vs_promise !== null ? row.on_time_vs_promise : null;
    }),
  }));
  fill(figure.querySelector(".body"),
    lineChart(figure, weeks, series, "On-time rate against the promised date, per carrier and week"),
    legend(carriers),
    dataTable("On time vs promise", ["Carrier", "Week", "Delivered", "On time"],
      byWeek.map((r) => [r.carrier || "?", r.week, String(r.delivered), pct(r.on_time_vs_promise)])),
  );
}

function drawClickToDoor(byCarrier) {
  const figure = $("chart-click-to-door");
  const rows = byCarrier.filter((r) => Array.isArray(r.click_to_door_h) && r.click_to_door_h.some((v) => v !== null));
  if (!rows.length) return empty(figure, "No delivered shipments with an order date in this period yet.");
  const names = ["p50", "p90", "p99"];
  fill(figure.querySelector(".body"),
    barChart("Click-to-door hours by carrier", rows.map((r) => ({ name: r.carrier || "?", values: r.click_to_door_h.map((v) => (v === null ? null : Number(v))) })), names, "h"),
    legend(names),
    dataTable("Click to door", ["Carrier", "p50 h", "p90 h", "p99 h"],
      rows.map((r) => [r.carrier || "?", ...r.click_to_door_h.map((v) => (v === null ? "—" : Number(v).toFixed(1)))])),
  );
}

function drawExceptions(exceptions, byCarrier) {
  const figure = $("chart-exceptions");
  const shipments = byCarrier.reduce((sum, r) => sum + (r.shipments || 0), 0);
  if (!exceptions.length || !shipments) return empty(figure, "No exceptions in this period.");
  const byReason = new Map();
  for (const row of exceptions) {
    const name = row.reason || row.type || "unknown";
    byReason.set(name, (byReason.get(name) || 0) + row.exceptions);
  }
  const ordered = [...byReason.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15);
  fill(figure.querySelector(".body"),
    barChart("Exceptions per 100 shipments by reason", ordered.map(([name, n]) => ({ name: name.replaceAll("_", " ").slice(0, 18), values: [(100 * n) / shipments] })), ["per 100 shipments"], "per 100"),
    dataTable("Exceptions by reason", ["Reason", "Exceptions", "Per 100 shipments"],
      ordered.map(([name, n]) => [name, String(n), ((100 * n) / shipments).toFixed(2)])),
  );
}

function drawVolume(byCarrier) {
  const figure = $("chart-volume");
  if (!byCarrier.length) return empty(figure);
  const names = ["shipments", "delivered"];
  fill(figure.querySelector(".body"),
    barChart("Shipments and deliveries by carrier", byCarrier.map((r) => ({ name: r.carrier || "?", values: [r.shipments, r.delivered] })), names, ""),
    legend(names),
  );
}

// -- Notifications panel (sections notify_* of the same report) --------------------------------

function minutes(value) {
  if (value === null || value === undefined) return "—";
  const n = Number(value);
  return n < 90 ? `${n.toFixed(1)} min` : `${(n / 60).toFixed(1)} h`;
}

function number(value, digits = 2) {
  return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
}

function table(caption, head, body) {
  return el("div", { class: "table-wrap" },
    el("table", {}, el("caption", {}, caption),
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, body.map((row) => el("tr", {}, row.map((cell) => el("td", {}, cell)))))));
}

function drawNotifications(report) {
  const body = $("notifications").querySelector(".body");
  const delay = (report.notify_delay || [])[0] || {};
  const messages = report.notify_messages || [];
  const suppressions = report.notify_suppressions || [];
  const webhooks = report.notify_webhooks || [];
  const all = messages.find((r) => r.channel === "all") || {};
  const customer = messages.find((r) => r.channel === "customer") || {};
  const [p50, p90] = delay.detected_to_notified_min || [null, null];
  const facts = el("dl", { class: "facts", id: "notify-facts" },
    el("dt", {}, "Exception detected → customer notified"),
    el("dd", { "data-kpi": "detected_to_notified" }, `p50 ${minutes(p50)} · p90 ${minutes(p90)}`),
    el("dt", {}, "Exceptions whose customer was told"),
    el("dd", { "data-kpi": "notified_rate" }, `${delay.notified ?? 0} of ${delay.exceptions ?? 0} (${pct(delay.notified_rate)})`),
    el("dt", {}, "Customer messages per order (e-mail and SMS)"),
    el("dd", { "data-kpi": "messages_per_order" }, `${number(customer.messages_per_order)} (${customer.sent ?? 0} sent to ${customer.orders_messaged ?? 0} orders)`),
    el("dt", {}, "All messages per order (with webhooks and alerts)"),
    el("dd", { "data-kpi": "all_messages_per_order" }, `${number(all.messages_per_order)} (${all.sent ?? 0} sent to ${all.orders_messaged ?? 0} orders)`),
    el("dt", {}, "Suppressed"),
    el("dd", { "data-kpi": "suppressed" }, String(all.suppressed ?? 0)),
  );
  const parts = [facts];
  const channels = messages.filter((r) => r.channel !== "all" && r.channel !== "customer");
  if (channels.length) {
    parts.push(table("Messages by channel", ["Channel", "Sent", "Failed", "Suppressed", "Per order", "Trigger → sent p50 / p90"],
      channels.map((r) => [r.channel, String(r.sent), String(r.failed), String(r.suppressed), number(r.messages_per_order),
        (r.trigger_to_sent_min || []).map(minutes).join(" / ")])));
  }
  if (suppressions.length) {
    const top = suppressions.slice(0, 15);
    parts.push(el("figure", { id: "chart-suppressions" }, el("figcaption", {}, "Suppressions by reason"),
      barChart("Suppressed messages by reason", top.map((r) => ({ name: r.reason.replaceAll("_", " ").slice(0, 18), values: [r.suppressed] })), ["suppressed"], "messages"),
      dataTable("Suppressions by reason", ["Reason", "Suppressed", "Orders"], top.map((r) => [r.reason, String(r.suppressed), String(r.orders)]))));
  }
  parts.push(webhooks.length
    ? table("Webhook delivery by endpoint", ["Endpoint", "Delivered", "Failed", "Success", "Attempts per delivery", "Latency p50 / p90"],
      webhooks.map((r) => [r.endpoint || "?", String(r.delivered), String(r.failed), pct(r.success_rate), number(r.attempts_per_delivery),
        (r.latency_ms || []).map((v) => (v === null ? "—" : `${Number(v).toFixed(0)} ms`)).join(" / ")]))
    : el("p", { class: "muted" }, "No webhook deliveries in this period."));
  if (!all.sent && !all.suppressed && !all.failed && !delay.exceptions) {
    return fill(body, el("p", { class: "muted" }, "No notifications in this period yet."));
  }
  fill(body, ...parts);
}

// -- Agent response panel (section agent_response of the same report) -------------------------

function p5090(pair) {
  const [p50, p90] = pair || [null, null];
  return `${minutes(p50)} / ${minutes(p90)}`;
}

function drawAgentResponse(rows) {
  const body = $("agent-response").querySelector(".body");
  const all = rows.find((r) => r.scope === "all") || {};
  if (!all.exceptions) {
    return fill(body, el("p", { class: "muted" }, "No exceptions opened in this period yet."));
  }
  const facts = el("dl", { class: "facts", id: "agent-facts" },
    el("dt", {}, "Time to acknowledge (p50 / p90)"),
    el("dd", { "data-kpi": "time_to_acknowledge" }, p5090(all.time_to_acknowledge_min)),
    el("dt", {}, "Time to resolve by an agent (p50 / p90)"),
    el("dd", { "data-kpi": "time_to_resolve" }, p5090(all.time_to_resolve_min)),
    el("dt", {}, "Exceptions opened"),
    el("dd", { "data-kpi": "exceptions" }, `${all.exceptions}: ${all.acknowledged} acknowledged, ${all.resolved_by_agent} resolved by an agent, ${all.resolved_automatically} resolved automatically, ${all.unresolved} unresolved, ${all.escalated} escalated`),
  );
  const byType = rows.filter((r) => r.scope === "type");
  const byAgent = rows.filter((r) => r.scope === "agent");
  const parts = [facts,
    table("By exception type", ["Type", "Opened", "Acknowledged", "Resolved: agent / auto", "Escalated", "To acknowledge p50 / p90", "To resolve p50 / p90"],
      byType.map((r) => [(r.type || "?").replaceAll("_", " "), String(r.exceptions), String(r.acknowledged),
        `${r.resolved_by_agent} / ${r.resolved_automatically}`, String(r.escalated), p5090(r.time_to_acknowledge_min), p5090(r.time_to_resolve_min)]))];
  parts.push(byAgent.length
    ? el("div", { id: "agent-table" }, table("By agent (automatic resolutions left out)", ["Agent", "Exceptions", "Acknowledged", "Resolved", "Escalated", "To acknowledge p50 / p90", "To resolve p50 / p90"],
      byAgent.map((r) => [r.agent, String(r.exceptions), String(r.acknowledged), String(r.resolved_by_agent), String(r.escalated),
        p5090(r.time_to_acknowledge_min), p5090(r.time_to_resolve_min)])))
    : el("p", { class: "muted" }, "No agent has acknowledged or resolved an exception opened in this period."));
  fill(body, ...parts);
}

// wismo's own delivery estimates against the delivery days (GET /v1/analytics/predictions): its
// own request, so a report without estimates (no model trained yet) leaves the rest of the page
async function loadPredictions(from, to, token) {
  const body = $("predictions").querySelector(".body");
  try {
    const report = await api(`/v1/analytics/predictions?from=${from}&to=${to}`, { token });
    const rows = report.data.carriers || [];
    if (!rows.length) {
      fill(body, el("p", { class: "muted" }, "No delivered shipment with a wismo estimate in this period."));
      return;
    }
    const days = (v) => (v === null || v === undefined ? "—" : `${Number(v).toFixed(2)} d`);
    fill(body, table("Predicted vs actual delivery day, by carrier (delivered in the period)",
      ["Carrier", "Shipments", "Estimates", "MAE first estimate", "MAE last estimate", "Bias (late +)", "MAE carrier EDD", "In window"],
      rows.map((r) => [r.carrier || "?", String(r.shipments), String(r.predictions), days(r.mae_first_days), days(r.mae_last_days),
        days(r.bias_last_days), days(r.mae_carrier_edd_days), pct(r.in_window)])));
  } catch (error) {
    fill(body, el("p", { class: "error" }, error.message));
  }
}

/** The brand select: the brands the agent may report on (the answer's brand_options); hidden
 * when there are none (an unbranded shop). "All brands" is every brand the agent may see. */
function fillBrands(options) {
  const select = $("brand");
  if (select.options.length > 1 || !options || !options.length) return;
  const wanted = params.get("brand") || "";
  for (const { id, name } of options) {
    select.append(el("option", { value: id }, name));
  }
  select.value = options.some((o) => o.id === wanted) ? wanted : "";
  $("brand-field").hidden = false;
}

async function load() {
  const from = $("from").value;
  const to = $("to").value;
  const chosen = $("brand").value || params.get("brand") || "";
  const brand = chosen ? `&brand=${encodeURIComponent(chosen)}` : "";
  const token = agentToken.get();
  $("report-error").textContent = "";
  $("report-status").textContent = "Loading…";
  try {
    const [weekly, carriers, notifications] = await Promise.all([
      api(`/v1/analytics/sla?from=${from}&to=${to}${brand}&by=carrier,week&section=delivery`, { token }),
      api(`/v1/analytics/sla?from=${from}&to=${to}${brand}&by=carrier&section=delivery,exceptions`, { token }),
      api(`/v1/analytics/sla?from=${from}&to=${to}${brand}&section=notify_delay,notify_messages,notify_suppressions,notify_webhooks,agent_response`, { token }),
    ]);
    fillBrands(carriers.data.brand_options);
    drawOnTime(weekly.data.delivery);
    drawClickToDoor(carriers.data.delivery);
    drawExceptions(carriers.data.exceptions, carriers.data.delivery);
    drawVolume(carriers.data.delivery);
    drawNotifications(notifications.data);
    drawAgentResponse(notifications.data.agent_response || []);
    loadPredictions(from, to, token);
    const total = carriers.data.delivery.reduce((sum, r) => sum + (r.shipments || 0), 0);
    $("report-status").textContent = `${total} shipments of orders placed ${from} to ${to} (KPI definitions v${carriers.data.kpi_version}).`;
  } catch (error) {
    $("report-status").textContent = "";
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      agentToken.clear();
      showLogin(error.message);
    } else {
      $("report-error").textContent = error.message;
    }
  }
}

function showLogin(message = "") {
  $("report").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("token").focus();
}

function showReport() {
  $("login").hidden = true;
  $("report").hidden = false;
  load();
}

const today = new Date();
const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
const params = new URLSearchParams(location.search);
$("to").value = params.get("to") || iso(today);
$("from").value = params.get("from") || iso(new Date(today.getTime() - 56 * 86400000));
$("period").addEventListener("submit", (event) => { event.preventDefault(); load(); });
$("brand").addEventListener("change", () => {
  params.set("brand", $("brand").value);
  load();
});
$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  agentToken.set($("token").value.trim());
  showReport();
});
if (agentToken.get()) showReport();
else showLogin();
