// The customer status page: look the order up (order number + e-mail or postcode), then keep
// its view current over the websocket, polling (with the ETag) while the socket is down.
import { api, ApiError, el, fill, formatDate, LiveSocket, place, timeEl, words, wsUrl } from "/static/common.js";

const POLL_MS = 15000;
const $ = (id) => document.getElementById(id);
const state = { orderId: null, token: null, version: -1, etag: null, socket: null, poll: null, view: null };

const STEPS = [
  ["ordered", "Ordered"],
  ["shipped", "Shipped"],
  ["in_transit", "In transit"],
  ["out_for_delivery", "Out for delivery"],
  ["delivered", "Delivered"],
];
const RETURN_STEPS = [
  ["ordered", "Ordered"],
  ["shipped", "Shipped"],
  ["returning", "Returning to sender"],
  ["returned", "Returned"],
];
// how far a parcel status has come on the forward path
const REACHED = {
  pending: 1, info_received: 1, unknown: 1, in_transit: 2, exception: 2, expired: 2,
  attempt_fail: 3, out_for_delivery: 3, available_for_pickup: 3, delivered: 4,
};
const ORDER_TEXT = {
  placed: "Received", processing: "Being prepared", partially_shipped: "Partly on its way",
  shipped: "On its way", in_transit: "On its way", out_for_delivery: "Out for delivery",
  available_for_pickup: "Ready for pickup", exception: "Delayed", partially_delivered: "Partly delivered",
  delivered: "Delivered", cancelled: "Cancelled", returned: "Returned", refunded: "Refunded",
};
const PROBLEM = new Set(["exception", "attempt_fail", "expired"]);
const NEXT_STEP = {
  attempt_fail: "The carrier will try again or leave a card telling you where to collect it.",
  available_for_pickup: "Your parcel is waiting for you at the pickup point shown below.",
  exception: "We are on it with the carrier; this page updates as soon as they tell us more.",
  expired: "The carrier has not sent news for a while; we are chasing them.",
  returning_to_sender: "The parcel is on its way back to us; we will contact you about a refund or a new delivery.",
  returned_to_sender: "The parcel came back to us; we will contact you about a refund or a new delivery.",
};

function progress(shipment) {
  const status = shipment.status || "pending";
  const returning = status === "returning_to_sender" || status === "returned_to_sender";
  const steps = returning ? RETURN_STEPS : STEPS;
  const reached = returning ? (status === "returned_to_sender" ? 3 : 2) : (REACHED[status] ?? 1);
  const list = el("ol", { class: "progress", "aria-label": "Delivery progress" });
  steps.forEach(([key, label], index) => {
    const classes = [];
    if (index <= reached) classes.push("done");
    if (index === reached) classes.push("current");
    if (index === reached && PROBLEM.has(status)) classes.push("problem");
    if (returning && index >= 2 && index <= reached) classes.push("returning");
    const text = index === reached && PROBLEM.has(status) ? `${label}: ${words(shipment.description || status)}` : label;
    list.append(el("li", {
      class: classes.join(" "),
      "data-step": key,
      "aria-current": index === reached ? "step" : null,
    }, text, index <= reached ? el("span", { class: "sr-only" }, " (done)") : null));
  });
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
  const next = NEXT_STEP[shipment.status];
  const items = shipment.items && shipment.items.length ? shipment.items : null;
  const checkpoints = shipment.checkpoints || [];
  return el("section", { class: "card shipment", "data-tracking": shipment.tracking_number || "" },
    el("h2", {}, `${title}: `, el("span", { class: `pill ${shipment.status || ""}`, "data-status": shipment.status || "" }, shipment.description || words(shipment.status))),
    progress(shipment),
    next ? el("p", { class: "notice" }, next) : null,
    el("dl", { class: "facts" },
      el("dt", {}, "Carrier"), el("dd", {}, [shipment.carrier ? shipment.carrier.toUpperCase() : "—", shipment.service ? ` · ${shipment.service}` : ""]),
      el("dt", {}, "Tracking number"), el("dd", {}, tracking),
      el("dt", {}, arrives[0]), el("dd", { class: "arrives" }, arrives[1]),
      shipment.destination ? [el("dt", {}, "Going to"), el("dd", {}, place(shipment.destination))] : null,
    ),
    items ? [el("h3", {}, "In this parcel"), el("ul", { class: "items" }, items.map((item) => el("li", {}, `${item.quantity ?? 1} × ${item.name || item.sku || "item"}`)))] : null,
    el("h3", {}, "History"),
    checkpoints.length
      ? el("ol", { class: "history" }, checkpoints.map((c) => el("li", {},
        el("div", {}, el("strong", {}, c.description || words(c.status)), c.reason ? ` (${words(c.reason)})` : ""),
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
      el("dt", {}, "Status"), el("dd", { id: "order-status", "data-status": view.status || "" }, view.cancelled ? "Cancelled" : ORDER_TEXT[view.status] || words(view.status) || "Received"),
      el("dt", {}, "Ordered"), el("dd", {}, view.placed_at ? timeEl(view.placed_at) : "—"),
      delivery.promised ? [el("dt", {}, "Promised by"), el("dd", {}, formatDate(delivery.promised))] : null,
      estimated ? [el("dt", {}, "Estimated delivery"), el("dd", { id: "estimate" }, estimated)] : null,
      el("dt", {}, "Last updated"), el("dd", { id: "updated" }, view.updated_at ? timeEl(view.updated_at) : "—"),
    ),
    milestones.length ? el("p", { class: "sr-only" }, `Milestones reached: ${milestones.filter((m) => m.done).map((m) => words(m.name)).join(", ") || "none"}`) : null,
    view.items && view.items.length
      ? [el("h2", {}, "Items"), el("ul", { class: "items" }, view.items.map((item) => el("li", {}, `${item.quantity ?? 1} × ${item.name || "item"}`)))]
      : null,
  );
  const shipments = view.shipments || [];
  fill($("shipments"), ...shipments.map((s, i) => shipmentCard(s, i, shipments.length)));
  fill($("unshipped"), shipments.length || view.cancelled ? "" : el("p", { class: "card" }, "We are preparing your order; tracking appears here as soon as it ships."));
  for (const leg of view.returns || []) {
    $("unshipped").append(el("p", { class: "card" }, `Return: ${words(leg.status)}`, leg.tracking_number ? ` · ${leg.carrier || ""} ${leg.tracking_number}` : ""));
  }
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
  stopTracking();
  showLookup(error.status === 401 ? "Your session has expired: please look your order up again." : error.message);
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
    $("announce").textContent = `Updated: ${frame.view.status ? words(frame.view.status) : "new information"}`;
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
  state.socket = new LiveSocket(
    () => wsUrl(`/v1/ws/orders/${encodeURIComponent(orderId)}?token=${encodeURIComponent(token)}${state.version >= 0 ? `&version=${state.version}` : ""}`),
    onFrame,
    (on, code) => {
      if (code === 4401 || code === 4403) expired(new ApiError(401, {}));
      else setLive(on);
    },
  );
}

function stopTracking() {
  if (state.socket) state.socket.close();
  state.socket = null;
  stopPolling();
  state.orderId = null;
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
  stopTracking();
  showLookup();
});
const params = new URLSearchParams(location.search);
if (params.get("order")) $("order-number").value = params.get("order");
if (params.get("email")) $("secret").value = params.get("email");
const saved = JSON.parse(sessionStorage.getItem("wismo.order") || "null");
if (saved && saved.orderId && saved.token) startTracking(saved.orderId, saved.token);
else if (params.get("order") && params.get("email")) $("lookup-form").requestSubmit();
