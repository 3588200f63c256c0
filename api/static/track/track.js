// The customer status page: look the order up (order number + e-mail or postcode), then keep
// its view current over the websocket, polling (with the ETag) while the socket is down.
import { api, ApiError, el, fill, formatDate, LiveSocket, place, timeEl, words, wsUrl } from "/static/common.js";
import { OrderUpdates } from "/static/track/notify.js";
import { OrderActions } from "/static/track/actions.js";

const POLL_MS = 15000;
const $ = (id) => document.getElementById(id);
const state = { orderId: null, token: null, version: -1, etag: null, socket: null, poll: null, view: null };
// what the customer typed to look the order up, kept in this page only (never stored): a token
// that expires is replaced by looking the order up again, and the page carries on
let credentials = null;
let renewing = false;
// the "Get updates" piece (track/notify.js), for the order on the page
const updates = new OrderUpdates($("updates"), () => ({ orderId: state.orderId, token: state.token }), (error) => expired(error));
// report a problem, return or cancel items, and each request's state (track/actions.js)
const actions = new OrderActions($("actions"), () => ({ orderId: state.orderId, token: state.token }), (error) => expired(error));

// Wording and progress steps come from the server (projections/customer_order.py): this page
// only lays them out.

function progress(shipment) {
  const list = el("ol", { class: "progress", "aria-label": "Delivery progress" });
  for (const step of shipment.progress || []) {
    const classes = [];
    if (step.done) classes.push("done");
    if (step.current) classes.push("current");
    if (step.problem) classes.push("problem");
    if (step.returning) classes.push("returning");
    list.append(el("li", {
      class: classes.join(" "),
      "data-step": step.step,
      "aria-current": step.current ? "step" : null,
    }, step.label, step.done ? el("span", { class: "sr-only" }, " (done)") : null));
  }
  return list;
}

function windowText(start, end, estimated) {
  const a = formatDate(start || estimated);
  const b = formatDate(end || estimated);
  if (!a && !b) return "";
  return a === b || !b ? a : `${a} – ${b}`;
}

function shipmentCard(shipment, index, total) {
  const title = total > 1 ? `Parcel ${index + 1} of ${total}` : "Your parcel";
  const tracking = shipment.tracking_url
    ? el("a", { href: shipment.tracking_url, rel: "noopener noreferrer", target: "_blank" }, shipment.tracking_number || "")
    : el("span", { class: "code" }, shipment.tracking_number || "not yet known");
  const arrives = shipment.delivered_at
    ? ["Delivered", timeEl(shipment.delivered_at)]
    : ["Estimated delivery", windowText(shipment.window_start, shipment.window_end, shipment.estimated_delivery) || "not yet known"];
  // wismo's own estimate beside the carrier's, in the server's cautious words
  const ours = shipment.delivered_at ? null : shipment.wismo_estimate;
  const next = shipment.next_step;
  const items = shipment.items && shipment.items.length ? shipment.items : null;
  const checkpoints = shipment.checkpoints || [];
  return el("section", { class: "card shipment", "data-tracking": shipment.tracking_number || "" },
    el("h2", {}, `${title}: `, el("span", { class: `pill ${shipment.status || ""}`, "data-status": shipment.status || "" }, shipment.description)),
    progress(shipment),
    next ? el("p", { class: "notice" }, next) : null,
    el("dl", { class: "facts" },
      el("dt", {}, "Carrier"), el("dd", {}, [shipment.carrier ? shipment.carrier.toUpperCase() : "—", shipment.service ? ` · ${shipment.service}` : ""]),
      el("dt", {}, "Tracking number"), el("dd", {}, tracking),
      el("dt", {}, arrives[0]), el("dd", { class: "arrives" }, arrives[1]),
      ours ? [el("dt", {}, "Our estimate"), el("dd", { class: ours.may_be_late ? "ours may-be-late" : "ours" }, ours.text.replace(/^Our estimate: /, ""))] : null,
      shipment.destination ? [el("dt", {}, "Going to"), el("dd", {}, place(shipment.destination))] : null,
    ),
    items ? [el("h3", {}, "In this parcel"), el("ul", { class: "items" }, items.map((item) => el("li", {}, `${item.quantity ?? 1} × ${item.name || item.sku || "item"}`)))] : null,
    el("h3", {}, "History"),
    checkpoints.length
      ? el("ol", { class: "history" }, checkpoints.map((c) => el("li", {},
        el("div", {}, el("strong", {}, c.description), c.reason ? ` (${words(c.reason)})` : ""),
        el("div", {}, timeEl(c.at), c.location ? el("span", { class: "where" }, ` · ${place(c.location)}`) : null))))
      : el("p", { class: "muted" }, "No scans from the carrier yet."),
  );
}

function render(view) {
  state.view = view;
  $("order-title").textContent = `Order ${view.order_number || view.order_id}`;
  const banner = $("banner");
  if (view.banner) {
    fill(banner, el("strong", {}, "There is a problem with your delivery"), view.banner);
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
  const delivery = view.delivery || {};
  const estimated = windowText(delivery.window_start, delivery.window_end, delivery.estimated);
  const milestones = view.milestones || [];
  fill($("summary"),
    el("dl", { class: "facts" },
      el("dt", {}, "Status"), el("dd", { id: "order-status", "data-status": view.status || "" }, view.status_text),
      el("dt", {}, "Ordered"), el("dd", {}, view.placed_at ? timeEl(view.placed_at) : "—"),
      delivery.promised ? [el("dt", {}, "Promised by"), el("dd", {}, formatDate(delivery.promised))] : null,
      estimated ? [el("dt", {}, "Estimated delivery"), el("dd", { id: "estimate" }, estimated)] : null,
      el("dt", {}, "Last updated"), el("dd", { id: "updated" }, view.updated_at ? timeEl(view.updated_at) : "—"),
    ),
    milestones.length ? el("p", { class: "sr-only" }, `Milestones reached: ${milestones.filter((m) => m.done).map((m) => m.label).join(", ") || "none"}`) : null,
    view.items && view.items.length
      ? [el("h2", {}, "Items"), el("ul", { class: "items" }, view.items.map((item) => el("li", {}, `${item.quantity ?? 1} × ${item.name || "item"}`)))]
      : null,
  );
  const shipments = view.shipments || [];
  fill($("shipments"), ...shipments.map((s, i) => shipmentCard(s, i, shipments.length)));
  fill($("unshipped"), shipments.length || view.cancelled ? "" : el("p", { class: "card" }, "We are preparing your order; tracking appears here as soon as it ships."));
  actions.render(view);
}

function setLive(on) {
  const live = $("live");
  live.classList.toggle("on", on);
  live.textContent = on ? "Live: this page updates by itself" : `Checking for updates every ${POLL_MS / 1000} s`;
  if (on) stopPolling();
  else startPolling();
}

function startPolling() {
  if (state.poll || !state.orderId) return;
  state.poll = setInterval(refresh, POLL_MS);
}

function stopPolling() {
  clearInterval(state.poll);
  state.poll = null;
}

function expired(error) {
  if (error.status === 401) {
    renew();
    return;
  }
  stopTracking();
  showLookup(error.status === 403 ? "This page was for another order: please look your order up again." : error.message);
}

// the token ran out (REST 401, or the socket closed with 4440): fetch a fresh one and resume
async function renew() {
  if (renewing) return;
  renewing = true;
  try {
    if (!credentials) throw new Error("nothing to look the order up with");
    const { data } = await api("/v1/lookup", { method: "POST", body: credentials });
    if (data.order_id !== state.orderId) throw new Error("the look-up found another order");
    state.token = data.token;
    sessionStorage.setItem("wismo.order", JSON.stringify({ orderId: state.orderId, token: data.token }));
    if (state.socket) state.socket.close();
    state.socket = openSocket();
    await refresh();
  } catch {
    stopTracking();
    showLookup("Your session has expired: please look your order up again.");
  } finally {
    renewing = false;
  }
}

async function refresh() {
  try {
    const { status, data, etag } = await api(`/v1/orders/${encodeURIComponent(state.orderId)}`, { token: state.token, etag: state.etag });
    if (status === 304) return;
    state.etag = etag;
    if (data.version === undefined || data.version === null || data.version >= state.version) {
      state.version = data.version ?? state.version;
      render(data);
    }
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) expired(error);
    else $("order-error").textContent = "Could not refresh just now; retrying.";
  }
}

function onFrame(frame) {
  if (frame.type === "order" && frame.order_id === state.orderId) {
    if (frame.version < state.version) return;
    state.version = frame.version;
    $("order-error").textContent = "";
    render(frame.view);
    $("announce").textContent = `Updated: ${frame.view.status_text}`;
  } else if (frame.type === "error") {
    if (frame.error === "unauthorized") expired(new ApiError(401, frame));
  }
}

function startTracking(orderId, token) {
  stopTracking();
  Object.assign(state, { orderId, token, version: -1, etag: null });
  sessionStorage.setItem("wismo.order", JSON.stringify({ orderId, token }));
  $("lookup").hidden = true;
  $("order").hidden = false;
  refresh().then(() => $("order-title").focus());
  state.socket = openSocket();
  updates.show(orderId);
}

function openSocket() {
  return new LiveSocket(
    () => wsUrl(`/v1/ws/orders/${encodeURIComponent(state.orderId)}?token=${encodeURIComponent(state.token)}${state.version >= 0 ? `&version=${state.version}` : ""}`),
    onFrame,
    (on, code) => {
      if (code === 4440) renew();
      else if (code === 4401 || code === 4403) expired(new ApiError(code - 4000, {}));
      else setLive(on);
    },
  );
}

function stopTracking() {
  if (state.socket) state.socket.close();
  state.socket = null;
  stopPolling();
  state.orderId = null;
  updates.hide();
  actions.hide();
  sessionStorage.removeItem("wismo.order");
}

function showLookup(message = "") {
  $("order").hidden = true;
  $("lookup").hidden = false;
  $("lookup-error").textContent = message;
  $("order-number").focus();
}

async function lookup(event) {
  event.preventDefault();
  const number = $("order-number").value.trim();
  const secret = $("secret").value.trim();
  const errorBox = $("lookup-error");
  errorBox.textContent = "";
  if (!number || !secret) {
    errorBox.textContent = "Please enter your order number and your e-mail address or postcode.";
    (number ? $("secret") : $("order-number")).focus();
    return;
  }
  const body = { order_number: number, ...(secret.includes("@") ? { email: secret } : { postcode: secret }) };
  const button = $("lookup-submit");
  button.disabled = true;
  try {
    const { data } = await api("/v1/lookup", { method: "POST", body });
    credentials = body;
    startTracking(data.order_id, data.token);
  } catch (error) {
    errorBox.textContent = error instanceof ApiError && error.status === 404
      ? "We could not find an order with that number and e-mail address or postcode. Please check both and try again."
      : error instanceof ApiError && error.status === 429
        ? "Too many attempts. Please wait a minute and try again."
        : `Sorry, something went wrong: ${error.message}`;
    $("order-number").focus();
  } finally {
    button.disabled = false;
  }
}

$("lookup-form").addEventListener("submit", lookup);
$("another").addEventListener("click", () => {
  credentials = null;
  stopTracking();
  showLookup();
});
// /track?tracking=<number> (the link in a parcel's messages): the public view of that parcel
async function showParcel(number) {
  $("lookup").hidden = true;
  $("order").hidden = true;
  $("parcel").hidden = false;
  $("parcel-title").textContent = `Parcel ${number}`;
  const problem = $("parcel-error");
  try {
    const { data } = await api(`/v1/tracking/${encodeURIComponent(number)}`);
    problem.hidden = true;
    fill($("parcel-view"), shipmentCard(data, 0, 1));
  } catch (error) {
    problem.hidden = false;
    problem.textContent = error instanceof ApiError && error.status === 404
      ? "We do not know this tracking number (yet). Please check it, or look your order up."
      : `Sorry, something went wrong: ${error.message}`;
  }
  $("parcel-title").focus();
}

const params = new URLSearchParams(location.search);
if (params.get("order")) $("order-number").value = params.get("order");
if (params.get("email")) $("secret").value = params.get("email");
const saved = JSON.parse(sessionStorage.getItem("wismo.order") || "null");
if (params.get("tracking")) showParcel(params.get("tracking").trim());
else if (saved && saved.orderId && saved.token) startTracking(saved.orderId, saved.token);
else if (params.get("order") && params.get("email")) $("lookup-form").requestSubmit();
