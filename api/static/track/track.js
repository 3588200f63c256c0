// The customer status page: look the order up (order number + e-mail or postcode), then keep
// its view current over the websocket, polling (with the ETag) while the socket is down.
import { api, ApiError, el, fill, LiveSocket, place, timeEl, words, wsUrl } from "/static/common.js";
import { OrderUpdates } from "/static/track/notify.js";
import { OrderActions } from "/static/track/actions.js";
import { i18n, t } from "/static/track/labels.js";

const POLL_MS = 15000;
const $ = (id) => document.getElementById(id);
const LANGS = ["en", "de", "fr", "es", "nl"];
const params = new URLSearchParams(location.search);

// Languages: the page's labels come from /v1/i18n/{lang} (api/page_texts.py), the order's words
// from the view itself; the English below is only the fallback while they load.
i18n.brand = params.get("brand") || null;
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

function chosenLanguage() {
  const wanted = params.get("lang") || localStorage.getItem("wismo.lang");
  return LANGS.includes(wanted) ? wanted : null;
}

async function loadLabels(lang) {
  try {
    const { data } = await api(`/v1/i18n/${encodeURIComponent(lang)}`);
    i18n.labels = data.labels || {};
  } catch {
    i18n.labels = {};
  }
  i18n.lang = lang;
  document.documentElement.lang = lang;
  $("lang").value = lang;
  for (const node of document.querySelectorAll("[data-t]")) {
    node.dataset.fallback ??= node.textContent;
    if (node.id === "brand-name" && i18n.brandBlock) continue;
    node.textContent = t(node.dataset.t, node.dataset.fallback);
  }
  updates.relabel();
}

// only the reader's explicit choice is sent: otherwise the server picks (the order's locale, then
// Accept-Language, then the brand's), and the labels follow the language the view came in
function langQuery(prefix = "?", fallback = null) {
  const lang = chosenLanguage() || fallback;
  return lang ? `${prefix}lang=${encodeURIComponent(lang)}` : "";
}

function localDate(value) {
  if (!value) return "";
  const day = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const when = new Date(day ? `${value}T12:00:00Z` : value);
  if (Number.isNaN(when.getTime())) return "";
  const options = { weekday: "short", day: "numeric", month: "short", timeZone: day ? "UTC" : zone };
  return new Intl.DateTimeFormat(i18n.lang || undefined, options).format(when);
}

function localDateTime(value) {
  const when = value ? new Date(value) : null;
  if (!when || Number.isNaN(when.getTime())) return "";
  return new Intl.DateTimeFormat(i18n.lang || undefined, {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: zone,
  }).format(when);
}

const localTime = (value) => timeEl(value, localDateTime);

// the relative luminance contrast of two #rrggbb colours (WCAG 2)
function contrast(a, b) {
  const lum = (hex) => {
    const [r, g, b2] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
      .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b2;
  };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

// a brand's look: logo (alt = its name), colours kept only where white text stays readable
function applyBrand(block) {
  if (!block || !block.id) return;
  i18n.brandBlock = block;
  i18n.brand = i18n.brand || block.id;
  const name = $("brand-name");
  name.textContent = block.name;
  const logo = $("brand-logo");
  if (block.logo_url) {
    logo.src = block.logo_url;
    logo.alt = block.name;
    logo.hidden = false;
    name.classList.add("sr-only");
  }
  $("home").href = `/track?brand=${encodeURIComponent(block.id)}`;
  const root = document.documentElement.style;
  const colour = /^#[0-9a-fA-F]{6}$/;
  for (const [prop, value] of [["--brand", block.primary_color], ["--brand-accent", block.accent_color]]) {
    if (value && colour.test(value) && contrast(value, "#ffffff") >= 4.5) root.setProperty(prop, value);
  }
  if (block.primary_color && colour.test(block.primary_color) && contrast(block.primary_color, "#ffffff") >= 4.5) {
    document.querySelector("header.site").style.background = block.primary_color;
  }
  const support = $("support");
  const links = [];
  if (block.support_email) links.push(el("a", { href: `mailto:${block.support_email}` }, block.support_email));
  if (block.support_phone) links.push(el("a", { href: `tel:${block.support_phone.replace(/\s+/g, "")}` }, block.support_phone));
  if (block.support_url && /^https?:/.test(block.support_url)) links.push(el("a", { href: block.support_url, rel: "noopener noreferrer" }, block.support_url));
  if (links.length) {
    fill(support, el("strong", {}, t("support", "Need help? Contact us")), " ", ...links.flatMap((a, i) => (i ? [" · ", a] : [a])));
    support.hidden = false;
  }
}

async function loadBrand(id) {
  try {
    const { data } = await api(`/v1/brands/${encodeURIComponent(id)}`);
    applyBrand(data);
  } catch {
    i18n.brand = null; // an unknown brand: the plain page
  }
}
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
  const list = el("ol", { class: "progress", "aria-label": t("delivery_progress", "Delivery progress") });
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
    }, step.label, step.done ? el("span", { class: "sr-only" }, ` (${t("done", "done")})`) : null));
  }
  return list;
}

function windowText(start, end, estimated) {
  const a = localDate(start || estimated);
  const b = localDate(end || estimated);
  if (!a && !b) return "";
  return a === b || !b ? a : `${a} – ${b}`;
}

function shipmentCard(shipment, index, total) {
  const title = total > 1 ? t("parcel_of", "Parcel %(index)s of %(total)s", { index: index + 1, total }) : t("your_parcel", "Your parcel");
  const unknown = t("not_yet_known", "not yet known");
  const tracking = shipment.tracking_url
    ? el("a", { href: shipment.tracking_url, rel: "noopener noreferrer", target: "_blank", title: t("track_at_carrier", "Track on the carrier's website") }, shipment.tracking_number || "")
    : el("span", { class: "code" }, shipment.tracking_number || unknown);
  const arrives = shipment.delivered_at
    ? [t("delivered", "Delivered"), localTime(shipment.delivered_at)]
    : [t("estimated_delivery", "Estimated delivery"), windowText(shipment.window_start, shipment.window_end, shipment.estimated_delivery) || unknown];
  const proof = shipment.proof;
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
      el("dt", {}, t("carrier", "Carrier")), el("dd", {}, [shipment.carrier ? shipment.carrier.toUpperCase() : "—", shipment.service ? ` · ${shipment.service}` : ""]),
      el("dt", {}, t("tracking_number", "Tracking number")), el("dd", {}, tracking),
      el("dt", {}, arrives[0]), el("dd", { class: "arrives" }, arrives[1]),
      ours ? [el("dt", {}, t("our_estimate", "Our estimate")), el("dd", { class: ours.may_be_late ? "ours may-be-late" : "ours" }, ours.text.replace(/^[^:]*:\s*/, ""))] : null,
      shipment.destination ? [el("dt", {}, t("going_to", "Going to")), el("dd", {}, place(shipment.destination))] : null,
      proof && proof.signed_by ? [el("dt", {}, t("proof_of_delivery", "Proof of delivery")), el("dd", { class: "signed-by" }, t("signed_by", "Signed for by %(name)s", { name: proof.signed_by }))] : null,
      proof && proof.url ? [el("dt", { class: proof.signed_by ? "sr-only" : "" }, t("proof_of_delivery", "Proof of delivery")), el("dd", {}, el("a", { class: "proof", href: proof.url, rel: "noopener noreferrer", target: "_blank" }, t("proof_link", "See the carrier's proof of delivery")))] : null,
    ),
    items ? [el("h3", {}, t("in_this_parcel", "In this parcel")), el("ul", { class: "items" }, items.map((item) => el("li", {}, `${item.quantity ?? 1} × ${item.name || item.sku || t("item", "item")}`)))] : null,
    el("h3", {}, t("history", "History")),
    checkpoints.length
      ? el("ol", { class: "history" }, checkpoints.map((c) => el("li", {},
        el("div", {}, el("strong", {}, c.description), c.reason ? ` (${words(c.reason)})` : ""),
        el("div", {}, localTime(c.at), c.location ? el("span", { class: "where" }, ` · ${place(c.location)}`) : null))))
      : el("p", { class: "muted" }, t("no_scans", "No scans from the carrier yet.")),
  );
}

function render(view) {
  state.view = view;
  if (view.lang && view.lang !== i18n.lang && LANGS.includes(view.lang) && !chosenLanguage()) {
    loadLabels(view.lang).then(() => state.view === view && render(view));
  }
  if (view.brand && (!i18n.brandBlock || i18n.brandBlock.id !== view.brand.id)) applyBrand(view.brand);
  $("order-title").textContent = `${t("order", "Order")} ${view.order_number || view.order_id}`;
  const address = $("address");
  address.hidden = !view.address_masked;
  if (view.address_masked) fill(address, el("strong", {}, `${t("delivery_address", "Delivery address")}: `), view.address_masked);
  const banner = $("banner");
  if (view.banner) {
    fill(banner, el("strong", {}, t("problem_banner", "There is a problem with your delivery")), " ", view.banner);
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
  const delivery = view.delivery || {};
  const estimated = windowText(delivery.window_start, delivery.window_end, delivery.estimated);
  const milestones = view.milestones || [];
  fill($("summary"),
    el("dl", { class: "facts" },
      el("dt", {}, t("status", "Status")), el("dd", { id: "order-status", "data-status": view.status || "" }, view.status_text),
      el("dt", {}, t("ordered", "Ordered")), el("dd", {}, view.placed_at ? localTime(view.placed_at) : "—"),
      delivery.promised ? [el("dt", {}, t("promised_by", "Promised by")), el("dd", {}, localDate(delivery.promised))] : null,
      estimated ? [el("dt", {}, t("estimated_delivery", "Estimated delivery")), el("dd", { id: "estimate" }, estimated)] : null,
      el("dt", {}, t("last_updated", "Last updated")), el("dd", { id: "updated" }, view.updated_at ? localTime(view.updated_at) : "—"),
    ),
    milestones.length ? el("p", { class: "sr-only" }, `${t("milestones_reached", "Milestones reached")}: ${milestones.filter((m) => m.done).map((m) => m.label).join(", ") || "—"}`) : null,
    view.items && view.items.length
      ? [el("h2", {}, t("items", "Items")), el("ul", { class: "items" }, view.items.map((item) => el("li", {}, `${item.quantity ?? 1} × ${item.name || t("item", "item")}`)))]
      : null,
  );
  const shipments = view.shipments || [];
  fill($("shipments"), ...shipments.map((s, i) => shipmentCard(s, i, shipments.length)));
  fill($("unshipped"), shipments.length || view.cancelled ? "" : el("p", { class: "card" }, t("preparing", "We are preparing your order; tracking appears here as soon as it ships.")));
  actions.render(view);
}

function setLive(on) {
  const live = $("live");
  live.classList.toggle("on", on);
  live.textContent = on ? t("live_on", "Live: this page updates by itself") : t("live_polling", "Checking for updates every %(seconds)s s", { seconds: POLL_MS / 1000 });
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
    const { status, data, etag } = await api(`/v1/orders/${encodeURIComponent(state.orderId)}${langQuery()}`, { token: state.token, etag: state.etag });
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
    $("announce").textContent = `${t("updated", "Updated")}: ${frame.view.status_text}`;
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
    () => wsUrl(`/v1/ws/orders/${encodeURIComponent(state.orderId)}?token=${encodeURIComponent(state.token)}${state.version >= 0 ? `&version=${state.version}` : ""}${langQuery("&", state.view && state.view.lang)}`),
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
    errorBox.textContent = t("lookup_missing", "Please enter your order number and your e-mail address or postcode.");
    (number ? $("secret") : $("order-number")).focus();
    return;
  }
  const body = { order_number: number, ...(secret.includes("@") ? { email: secret } : { postcode: secret }), ...(i18n.brand ? { brand: i18n.brand } : {}) };
  const button = $("lookup-submit");
  button.disabled = true;
  try {
    const { data } = await api("/v1/lookup", { method: "POST", body });
    credentials = body;
    startTracking(data.order_id, data.token);
  } catch (error) {
    errorBox.textContent = error instanceof ApiError && error.status === 404
      ? t("lookup_not_found", "We could not find an order with that number and e-mail address or postcode. Please check both and try again.")
      : error instanceof ApiError && error.status === 429
        ? t("too_many", "Too many attempts. Please wait a minute and try again.")
        : `${t("went_wrong", "Sorry, something went wrong:")} ${error.message}`;
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
  $("parcel-title").textContent = `${t("parcel", "Parcel")} ${number}`;
  state.parcel = number;
  const problem = $("parcel-error");
  try {
    const { data } = await api(`/v1/tracking/${encodeURIComponent(number)}${langQuery()}`);
    problem.hidden = true;
    fill($("parcel-view"), shipmentCard(data, 0, 1));
  } catch (error) {
    problem.hidden = false;
    problem.textContent = error instanceof ApiError && error.status === 404
      ? t("tracking_unknown", "We do not know this tracking number (yet). Please check it, or look your order up.")
      : `${t("went_wrong", "Sorry, something went wrong:")} ${error.message}`;
  }
  $("parcel-title").focus();
}

// the switcher: remembered, and the order (or parcel) on the page is read again in that language
$("lang").addEventListener("change", async () => {
  const lang = $("lang").value;
  if (!LANGS.includes(lang)) return;
  localStorage.setItem("wismo.lang", lang);
  params.delete("lang");
  await loadLabels(lang);
  if (state.orderId) {
    state.etag = null;
    state.version = -1;
    if (state.socket) state.socket.close();
    state.socket = openSocket();
    await refresh();
  } else if (state.parcel && !$("parcel").hidden) {
    await showParcel(state.parcel);
  }
});

// a link's order number and e-mail are in the form at once, before the labels arrive
if (params.get("order")) $("order-number").value = params.get("order");
if (params.get("email")) $("secret").value = params.get("email");
const startLang = chosenLanguage() || (navigator.languages || [navigator.language]).map((l) => (l || "").slice(0, 2)).find((l) => LANGS.includes(l)) || "en";
await loadLabels(startLang);
if (i18n.brand) await loadBrand(i18n.brand);
const saved = JSON.parse(sessionStorage.getItem("wismo.order") || "null");
if (params.get("tracking")) showParcel(params.get("tracking").trim());
else if (saved && saved.orderId && saved.token) startTracking(saved.orderId, saved.token);
else if (params.get("order") && params.get("email")) $("lookup-form").requestSubmit();
