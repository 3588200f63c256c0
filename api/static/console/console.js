// The agent console: a live exception queue (acknowledge / resolve with a note; assignment,
// escalation and bulk actions from work.js), order search, and an order's full record:
// timeline, raw carrier events, dedup decisions, dead letters, notes and customer messages.
import { age, agentToken, api, ApiError, el, fill, formatDateTime, LiveSocket, place, timeEl, words, wsUrl } from "/static/common.js";
import { showCarrierChecks } from "/static/console/poll.js";
import { showNotifications, showWebhooks } from "/static/console/notify.js";
import { assigneeCell, shownBy, Work } from "/static/console/work.js";

const $ = (id) => document.getElementById(id);
const TYPES = [
  "carrier_reported", "stalled", "late_vs_promise", "not_shipped_on_time", "label_not_scanned",
  "delivery_attempt_failed", "return_to_sender", "lost_or_damaged", "customs_hold",
  "payment_capture_failed", "refund_overdue", "trending_late", "customer_reported",
];
const SEVERITIES = ["critical", "high", "medium", "low"];
const SEVERITY_RANK = { critical: 3, high: 2, medium: 1, low: 0 };
const rows = new Map(); // exception id -> queue row
const pending = new Set(); // exception ids with an action on its way
const changedAt = new Map(); // exception id -> performance.now() of its last change on the feed
let socket = null;
let wasDown = false;
let currentOrder = null;
let orderReload = null;
let teamReload = null;

for (const type of TYPES) $("f-type").append(el("option", { value: type }, words(type)));
for (const severity of SEVERITIES) $("f-severity").append(el("option", { value: severity }, severity));

function token() {
  return agentToken.get();
}

function signedOut(message = "") {
  agentToken.clear();
  if (socket) socket.close();
  socket = null;
  for (const id of ["queue", "order", "webhooks", "team"]) $(id).hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("token").focus();
}

const work = new Work({
  token: () => token(),
  onError: (error, box) => failed(error, box),
  onSent: (ids, at) => {
    // the change may already be back on the live feed before the request's answer: then it is
    // not on its way any more
    for (const id of ids) if (!((changedAt.get(id) ?? -Infinity) >= at)) pending.add(id);
    renderQueue();
    if (currentOrder) scheduleOrderReload();
    // the change comes back on the live feed; without it, ask again shortly
    setTimeout(() => { if (ids.some((id) => pending.has(id))) loadQueue(); }, 4000);
  },
});

function failed(error, box) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    signedOut(`Signed out: ${error.message}`);
  } else {
    $(box).textContent = error.message;
  }
}

// ---- the queue ---------------------------------------------------------------------------

function filters() {
  return {
    type: $("f-type").value,
    severity: $("f-severity").value,
    carrier: $("f-carrier").value,
    brand: $("f-brand").value,
    minAgeH: Number($("f-age").value),
    state: $("f-state").value,
    who: $("f-who").value,
  };
}

function visible(row, f, now) {
  if (row.state === "resolved") return false;
  if (f.type && row.type !== f.type) return false;
  if (f.severity && row.severity !== f.severity) return false;
  if (f.carrier && row.carrier !== f.carrier) return false;
  if (f.brand && row.brand !== f.brand) return false;
  if (f.state && row.state !== f.state) return false;
  if (!shownBy(row, f.who, work.me)) return false;
  if (f.minAgeH) {
    const opened = Date.parse(row.opened_at || "");
    if (Number.isNaN(opened) || now - opened < f.minAgeH * 3600000) return false;
  }
  return true;
}

/** The brands this agent may see, id → name (GET /v1/agent/brands). */
const brandNames = new Map();

function brandName(id) {
  return brandNames.get(id) || id;
}

/** Fills the brand filter; shown only to an agent who sees more than one brand. */
async function loadBrands() {
  try {
    const { data } = await api("/v1/agent/brands", { token: token() });
    const select = $("f-brand");
    for (const b of data.brands) {
      if (!brandNames.has(b.id)) select.append(el("option", { value: b.id }, b.name));
      brandNames.set(b.id, b.name);
    }
    $("f-brand-box").hidden = data.brands.length < 2;
  } catch (error) {
    failed(error, "queue-error");
  }
}

function actionButtons(row) {
  const busy = pending.has(row.exception_id);
  return el("div", { class: "actions" },
    row.state === "open"
      ? el("button", { type: "button", class: "secondary", "data-action": "acknowledge", disabled: busy, onclick: () => openAction(row, "acknowledge") }, "Acknowledge")
      : null,
    el("button", { type: "button", class: "secondary", "data-action": "resolve", disabled: busy, onclick: () => openAction(row, "resolve") }, "Resolve"),
    busy ? null : work.buttons(row),
  );
}

function renderQueue(freshId = null) {
  const f = filters();
  const now = Date.now();
  const carriers = new Set([...rows.values()].map((r) => r.carrier).filter(Boolean));
  const carrierSelect = $("f-carrier");
  const known = new Set([...carrierSelect.options].map((o) => o.value));
  for (const carrier of [...carriers].sort()) {
    if (!known.has(carrier)) carrierSelect.append(el("option", { value: carrier }, carrier));
  }
  const shown = [...rows.values()].filter((r) => visible(r, f, now)).sort((a, b) =>
    (SEVERITY_RANK[b.severity] ?? -1) - (SEVERITY_RANK[a.severity] ?? -1)
    || (a.opened_at || "").localeCompare(b.opened_at || ""));
  const me = work.me;
  fill($("queue-table").tBodies[0], ...shown.map((row) => el("tr", {
    "data-exception": row.exception_id, class: row.exception_id === freshId ? "fresh" : null,
  },
  el("td", {}, el("span", { class: `pill ${row.severity}` }, row.severity || "")),
  el("td", {}, words(row.type), row.reason ? el("div", { class: "muted" }, words(row.reason)) : null),
  el("td", {}, el("a", { href: `#/order/${encodeURIComponent(row.order_id)}` }, row.order_number || row.order_id),
    row.brand ? el("div", { class: "muted", "data-brand": row.brand }, brandName(row.brand)) : null),
  el("td", {}, row.carrier || "—"),
  el("td", { title: row.opened_at || "" }, age(row.opened_at, now)),
  el("td", {}, el("span", { class: `pill ${row.state}` }, pending.has(row.exception_id) ? "saving…" : row.state)),
  assigneeCell(row, me),
  el("td", {}, row.message || "", row.note ? el("div", { class: "muted" }, `Note: ${row.note}`) : null),
  el("td", {}, actionButtons(row)),
  work.checkbox(row))));
  work.shown(shown.map((row) => row.exception_id));
  $("queue-count").textContent = `${shown.length} shown of ${[...rows.values()].filter((r) => r.state !== "resolved").length} open or acknowledged`;
}

function upsert(row, fresh) {
  rows.set(row.exception_id, row);
  changedAt.set(row.exception_id, performance.now());
  pending.delete(row.exception_id);
  renderQueue(fresh ? row.exception_id : null);
  if (currentOrder && row.order_id === currentOrder) scheduleOrderReload();
}

function onFrame(frame) {
  if (frame.type === "exceptions") {
    // the feed's first frame is the head of the queue; the full queue is read on (re)connect
    for (const row of frame.exceptions) rows.set(row.exception_id, row);
    renderQueue();
  } else if (frame.type === "exception") {
    upsert(frame.exception, true);
    if (!$("team").hidden) scheduleTeamReload();
  } else if (frame.type === "order_changed") {
    if (currentOrder && frame.order_id === currentOrder) scheduleOrderReload();
  } else if (frame.type === "error") {
    $("queue-error").textContent = frame.reason || "live feed error";
  }
}

async function loadQueue() {
  try {
    const { data } = await api("/v1/agent/exceptions?limit=1000", { token: token() });
    rows.clear();
    pending.clear(); // what the server holds now: a change still on its way comes on the feed
    for (const row of data.exceptions) rows.set(row.exception_id, row);
    renderQueue();
  } catch (error) {
    failed(error, "queue-error");
  }
}

function connect() {
  if (socket) return;
  socket = new LiveSocket(
    () => wsUrl(`/v1/ws/agent?orders=true&token=${encodeURIComponent(token())}`),
    onFrame,
    (on, code) => {
      const live = $("live");
      live.classList.toggle("on", on);
      live.textContent = on ? "live" : "reconnecting…";
      if (on && wasDown) loadQueue(); // changes made while it was down
      wasDown = !on;
      if (code === 4440) signedOut("Your token has expired: paste a fresh one to resume the live feed.");
      else if (code === 4401 || code === 4403) signedOut("The live feed refused the token; sign in again.");
    },
  );
}

// ---- acknowledge / resolve -----------------------------------------------------------------

let acting = null;

function openAction(row, action) {
  acting = { row, action };
  $("act-title").textContent = action === "acknowledge" ? "Acknowledge exception" : "Resolve exception";
  $("act-what").textContent = `${words(row.type)} on order ${row.order_number || row.order_id}: ${row.message || ""}`;
  $("act-note").value = "";
  $("act-error").textContent = "";
  $("act-confirm").textContent = action === "acknowledge" ? "Acknowledge" : "Resolve";
  $("act").showModal();
  $("act-note").focus();
}

async function confirmAction(event) {
  event.preventDefault();
  if (!acting) return;
  const { row, action } = acting;
  const note = $("act-note").value.trim();
  const at = performance.now();
  try {
    await api(`/v1/agent/exceptions/${encodeURIComponent(row.exception_id)}/${action}`, {
      method: "POST", token: token(), body: { order_id: row.order_id, ...(note ? { note } : {}) },
    });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401)) {
      $("act").close();
      failed(error, "queue-error");
    } else {
      $("act-error").textContent = error.message;
    }
    return;
  }
  $("act").close();
  acting = null;
  work.onSent([row.exception_id], at);
}

$("act-form").addEventListener("submit", confirmAction);
$("act-cancel").addEventListener("click", () => { $("act").close(); acting = null; });

// ---- search --------------------------------------------------------------------------------

async function search(event) {
  event.preventDefault();
  const q = $("q").value.trim();
  const box = $("search-results");
  if (!q) return;
  try {
    const { data } = await api(`/v1/agent/search?q=${encodeURIComponent(q)}`, { token: token() });
    fill(box, data.results.length
      ? el("ul", { class: "card", "aria-label": "Search results" }, data.results.map((r) => el("li", {},
        el("a", { href: `#/order/${encodeURIComponent(r.order_id)}` }, r.order_number || r.order_id),
        r.brand ? ` · ${brandName(r.brand)}` : "",
        ` · ${words(r.status)} · matched by ${words(r.matched_by)}`)))
      : el("p", { class: "card", role: "status" }, `Nothing matches “${q}”.`));
  } catch (error) {
    failed(error, "queue-error");
  }
}

// ---- one order -----------------------------------------------------------------------------

function table(caption, head, body) {
  return el("div", { class: "table-wrap" }, el("table", {},
    el("caption", { class: "sr-only" }, caption),
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, body)));
}

function raw(value) {
  return el("pre", {}, JSON.stringify(value, null, 2));
}

function decodeRaw(b64) {
  try {
    const text = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    return text.length > 4000 ? `${text.slice(0, 4000)}…` : text;
  } catch {
    return b64;
  }
}

// wismo's own estimate of a parcel: the day, its window, the chance of missing the promise, and
// what it rests on (the group of comparable parcels, how specific, how many scans)
function prediction(p) {
  if (!p) return "—";
  const chance = p.p_late === null || p.p_late === undefined
    ? "no promise"
    : `${Math.round(p.p_late * 100)} % late vs ${p.promise || "promise"}`;
  return [
    el("div", {}, p.predicted_delivery, " ", el("span", { class: "muted" }, `(${formatDateTime(p.window_start)} – ${formatDateTime(p.window_end)})`)),
    el("div", { "data-p-late": p.p_late ?? "" }, chance, p.beyond_history ? " · waited longer than its history" : ""),
    el("div", { class: "muted" }, `${words(p.level)} · `, el("code", {}, p.key), ` · ${p.samples} scans of ${p.parcels} parcels · model ${p.model_version} · as of ${formatDateTime(p.as_of)}`),
  ];
}

/** The photo a customer attached to a report: fetched with the agent's token, shown inline. */
function photoButton(attachment) {
  const button = el("button", { type: "button", class: "secondary" }, "Show photo");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const response = await fetch(`/v1/agent/photos/${encodeURIComponent(attachment.ref)}`, {
        headers: { Authorization: `Bearer ${token()}` }, cache: "no-store",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const url = URL.createObjectURL(await response.blob());
      button.replaceWith(el("img", { class: "photo", src: url, alt: "The photo the customer sent" }));
    } catch (error) {
      button.replaceWith(el("span", { class: "error" }, `Photo unavailable: ${error.message}`));
    }
  });
  return button;
}

function renderOrder(detail) {
  const t = detail.timeline;
  const duplicates = detail.duplicates || {};
  $("order-title").textContent = `Order ${t.order_number || t.order_id}`;
  const exceptions = (t.exceptions || []).map((e) => ({ ...e, order_id: t.order_id, order_number: t.order_number }));
  const events = [...detail.events].sort((a, b) => (a.occurred_at || "").localeCompare(b.occurred_at || "") || a.event_id.localeCompare(b.event_id));
  const parked = Object.entries(detail.parked || {});
  const notes = t.data_quality || [];
  fill($("order-body"),
    el("div", { class: "card" }, el("dl", { class: "facts" },
      el("dt", {}, "Order id"), el("dd", { class: "code" }, t.order_id),
      t.brand ? el("dt", {}, "Brand") : null, t.brand ? el("dd", {}, brandName(t.brand)) : null,
      el("dt", {}, "Status"), el("dd", {}, el("span", { class: `pill ${t.status}` }, words(t.status))),
      el("dt", {}, "Placed"), el("dd", {}, t.placed_at ? timeEl(t.placed_at) : "—"),
      el("dt", {}, "Promised"), el("dd", {}, t.promised_delivery_date || "—"),
      el("dt", {}, "Version"), el("dd", {}, `${t.version} · last event ${formatDateTime(t.last_event_at)}`),
      el("dt", {}, "Events"), el("dd", {}, `${detail.events.length} applied, ${Object.values(duplicates).reduce((a, b) => a + b, 0)} duplicate deliveries ignored`),
    )),
    el("h2", {}, "Exceptions"),
    exceptions.length ? table("Exceptions of this order", ["Severity", "Type", "State", "Opened", "Message", "Who / note", "Assignment and notes", "Actions"],
      exceptions.map((e) => el("tr", { "data-exception": e.exception_id },
        el("td", {}, el("span", { class: `pill ${e.severity}` }, e.severity)),
        el("td", {}, words(e.type), e.reason ? el("div", { class: "muted" }, words(e.reason)) : null),
        el("td", {}, el("span", { class: `pill ${e.state}` }, e.state)),
        el("td", {}, timeEl(e.opened_at)),
        el("td", {}, e.message || "", e.problem ? el("div", { class: "muted" }, `Customer report: ${words(e.problem)}`) : null,
          e.attachment ? photoButton(e.attachment) : null),
        el("td", {}, [e.acknowledged_by, e.resolved_by].filter(Boolean).join(" / "), e.note ? el("div", { class: "muted" }, e.note) : null),
        el("td", {}, work.exceptionWork(t, e)),
        el("td", {}, e.state === "resolved" ? "" : actionButtons(e)))))
      : el("p", { class: "muted" }, "None."),
    work.orderWork(t),
    notes.length ? [el("h2", {}, "Data quality"),
      el("ul", { "data-quality": "" }, notes.map((n) => el("li", {}, el("code", {}, n.code), " ", n.message)))] : null,
    el("h2", {}, "Shipments"),
    (t.shipments || []).length ? table("Shipments", ["Tracking", "Carrier", "Status", "Reason", "EDD", "wismo estimate", "Shipped", "Delivered", "Destination"],
      t.shipments.map((s) => el("tr", {},
        el("td", { class: "code" }, s.tracking_number || s.shipment_id || ""),
        el("td", {}, [s.carrier, s.service].filter(Boolean).join(" · ")),
        el("td", {}, el("span", { class: `pill ${s.status}` }, words(s.status))),
        el("td", {}, words(s.reason)),
        el("td", {}, s.estimated_delivery || ""),
        el("td", { class: "prediction" }, prediction(s.prediction)),
        el("td", {}, formatDateTime(s.shipped_at)),
        el("td", {}, formatDateTime(s.delivered_at)),
        el("td", {}, place(s.destination)))))
      : el("p", { class: "muted" }, "Not shipped yet."),
    el("div", { id: "carrier-checks", "aria-live": "polite" }),
    el("div", { id: "order-notifications" }),
    el("h2", {}, "Timeline (every applied event, raw carrier codes included)"),
    table("Events in canonical order", ["Occurred", "Received", "Source", "Kind", "Tracking", "Status / reason", "Raw code / message", "Event id", "Deliveries"],
      events.map((e) => {
        const p = e.payload || {};
        const copies = duplicates[e.event_id];
        return el("tr", { "data-event": e.event_id },
          el("td", {}, timeEl(e.occurred_at)),
          el("td", {}, formatDateTime(e.received_at)),
          el("td", {}, e.source),
          el("td", { class: "code" }, e.kind),
          el("td", { class: "code" }, e.tracking_number || ""),
          el("td", {}, [p.status, p.reason].filter(Boolean).map(words).join(" / ")),
          el("td", {}, p.raw_code ? el("code", {}, p.raw_code) : null, p.message ? el("div", { class: "muted" }, p.message) : null),
          el("td", { class: "code" }, e.event_id),
          el("td", { class: "num" }, copies ? `${copies + 1}× (dedup kept one)` : "1"));
      })),
    el("h2", {}, "Dedup decisions"),
    Object.keys(duplicates).length
      ? el("ul", {}, Object.entries(duplicates).map(([id, n]) => el("li", {}, el("code", {}, id), ` delivered ${n} more time${n === 1 ? "" : "s"}: ignored, the first copy was applied`)))
      : el("p", { class: "muted" }, "No event of this order arrived twice."),
    parked.length ? [el("h2", {}, "Parked scans (waiting for their shipment)"), ...parked.map(([number, scans]) => el("div", {}, el("h3", {}, number), raw(scans)))] : null,
    el("h2", {}, "Dead-lettered payloads"),
    el("div", { id: "dead-letters" }, el("p", { class: "muted" }, "Reading the dead-letter topic…")),
    el("details", {}, el("summary", {}, "Timeline document (JSON)"), raw(t)),
  );
  loadDeadLetters(t.order_id);
  const numbers = [...new Set((t.shipments || []).map((s) => s.tracking_number).filter(Boolean))];
  showCarrierChecks($("carrier-checks"), numbers, token(), (error) => failed(error, "order-error"));
  showNotifications($("order-notifications"), t.order_id, token(), (error) => failed(error, "order-error"));
}

async function loadDeadLetters(orderId) {
  try {
    const { data } = await api(`/v1/agent/orders/${encodeURIComponent(orderId)}/dead-letters`, { token: token() });
    if (currentOrder !== orderId) return;
    const box = $("dead-letters");
    if (!box) return;
    fill(box, data.dead_letters.length
      ? table("Dead letters that mention this order", ["Failed", "Source", "Reason", "Payload"],
        data.dead_letters.map((d) => el("tr", {},
          el("td", {}, timeEl(d.failed_at)),
          el("td", {}, d.source || ""),
          el("td", {}, d.reason, (d.problems || []).length ? el("div", { class: "muted" }, d.problems.join("; ")) : null),
          el("td", {}, el("pre", {}, decodeRaw(d.raw))))))
      : el("p", { class: "muted" }, "None."));
  } catch (error) {
    const box = $("dead-letters");
    if (box) fill(box, el("p", { class: "muted" }, `Dead letters unavailable: ${error.message}`));
  }
}

async function loadOrder(orderId) {
  currentOrder = orderId;
  $("order-error").textContent = "";
  try {
    const { data } = await api(`/v1/agent/orders/${encodeURIComponent(orderId)}`, { token: token() });
    if (currentOrder === orderId) renderOrder(data);
  } catch (error) {
    failed(error, "order-error");
  }
}

function scheduleTeamReload() {
  clearTimeout(teamReload);
  teamReload = setTimeout(() => { if (!$("team").hidden) work.showTeam($("team-body")); }, 400);
}

function scheduleOrderReload() {
  clearTimeout(orderReload);
  const orderId = currentOrder;
  orderReload = setTimeout(() => { if (currentOrder === orderId) loadOrder(orderId); }, 400);
}

// ---- routing -------------------------------------------------------------------------------

function route() {
  if (!token()) {
    signedOut();
    return;
  }
  $("login").hidden = true;
  $("logout").hidden = false;
  connect();
  const match = location.hash.match(/^#\/order\/(.+)$/);
  $("webhooks").hidden = true;
  $("team").hidden = true;
  $("team-link").hidden = !work.me.supervisor;
  if (location.hash === "#/team") {
    currentOrder = null;
    $("queue").hidden = true;
    $("order").hidden = true;
    $("team").hidden = false;
    work.showTeam($("team-body")).then(() => $("team-title").focus());
  } else if (location.hash === "#/webhooks") {
    currentOrder = null;
    $("queue").hidden = true;
    $("order").hidden = true;
    $("webhooks").hidden = false;
    showWebhooks($("webhooks-body"), token(), (error) => failed(error, "queue-error")).then(() => $("webhooks-title").focus());
  } else if (match) {
    $("queue").hidden = true;
    $("order").hidden = false;
    fill($("order-body"), el("p", { class: "muted" }, "Loading…"));
    loadOrder(decodeURIComponent(match[1])).then(() => $("order-title").focus());
  } else {
    currentOrder = null;
    $("order").hidden = true;
    $("queue").hidden = false;
    renderQueue();
  }
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const candidate = $("token").value.trim();
  try {
    await api("/v1/agent/exceptions?limit=1", { token: candidate });
  } catch (error) {
    $("login-error").textContent = error instanceof ApiError && error.status === 401
      ? `That token is not accepted: ${error.message}` : error.message;
    return;
  }
  agentToken.set(candidate);
  $("token").value = "";
  await loadBrands();
  await loadQueue();
  route();
});
$("logout").addEventListener("click", (event) => { event.preventDefault(); signedOut(); });
$("search-form").addEventListener("submit", search);
$("filters").addEventListener("change", () => renderQueue());
window.addEventListener("hashchange", route);
setInterval(() => { if (!$("queue").hidden) renderQueue(); }, 60000); // ages move on
const fromUrl = new URLSearchParams(location.search).get("token");
if (fromUrl) {
  agentToken.set(fromUrl);
  history.replaceState(null, "", location.pathname + location.hash);
}
if (token()) loadBrands().then(loadQueue);
route();
