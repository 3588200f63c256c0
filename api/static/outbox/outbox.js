// The development outbox: what the embedded SMTP sink, SMS sink and echo webhook receiver
// received (GET /v1/dev/outbox), newest first, refreshed every few seconds. E-mail HTML is
// shown in a sandboxed iframe (srcdoc, no scripts, no same origin); everything else as text.
import { api, el, fill } from "/static/common.js";

const REFRESH_MS = 3000;
const items = document.getElementById("items");
const status = document.getElementById("status");
const problem = document.getElementById("outbox-error");
const shown = {
  email: document.getElementById("show-email"),
  sms: document.getElementById("show-sms"),
  webhook: document.getElementById("show-webhook"),
};
const auto = document.getElementById("auto");
// one recipient's messages (?to= in the page's address, or typed): looked for among all kept
const recipient = document.getElementById("to");
recipient.value = new URLSearchParams(location.search).get("to") || "";
let last = "";
let latest = [];

function when(value) {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

function header(headers, name) {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers || {})) {
    if (key.toLowerCase() === wanted) return String(value);
  }
  return null;
}

// "<https://…>, <mailto:…>" → the first http(s) URL
function unsubscribeLink(headers) {
  const value = header(headers, "List-Unsubscribe");
  if (!value) return null;
  for (const part of value.split(",")) {
    const url = part.trim().replace(/^</, "").replace(/>$/, "");
    if (/^https?:\/\//i.test(url)) return url;
  }
  return null;
}

function meta(item) {
  // the brand's sender (e-mail From, SMS number) and the message's language (Content-Language)
  const from = item.kind === "webhook" ? null : header(item.headers, "From");
  const lang = header(item.headers, "Content-Language");
  return [
    from ? el("span", { class: "meta", text: `from ${from}` }) : null,
    el("span", { class: "meta", text: `to ${item.to || "?"}` }),
    lang ? el("span", { class: "meta lang", text: `language ${lang}` }) : null,
    el("span", { class: "meta", text: when(item.received_at) }),
    item.message_id ? el("span", { class: "meta", text: item.message_id }) : null,
    // what the ledger planned under that id: one milestone under two ids would show twice
    item.planned
      ? el("span", { class: "meta planned", title: "what the notification ledger planned under this id", text: `order ${item.planned.order_id} · ${item.planned.milestone}` })
      : null,
    item.duplicate ? el("span", { class: "duplicate", text: "repeat of a message already received" }) : null,
  ];
}

function emailCard(item) {
  const link = unsubscribeLink(item.headers);
  const frame = item.html
    ? el("iframe", { sandbox: "", title: `E-mail: ${item.subject || ""}`, loading: "lazy", referrerpolicy: "no-referrer" })
    : null;
  if (frame) frame.srcdoc = item.html;
  return [
    el("header", {}, el("span", { class: "kind email", text: "e-mail" }), el("span", { class: "subject", text: item.subject || "(no subject)" }), meta(item)),
    link
      ? el("p", {}, "Unsubscribe link (List-Unsubscribe): ", el("a", { class: "unsubscribe-link", href: link, text: link }))
      : el("p", { class: "meta", text: "No List-Unsubscribe header." }),
    frame,
    item.text ? el("details", {}, el("summary", { text: "Plain text part" }), el("pre", { text: item.text })) : null,
  ];
}

function smsCard(item) {
  return [
    el("header", {}, el("span", { class: "kind sms", text: "sms" }), meta(item)),
    el("p", {}, el("span", { class: "sms-text", text: item.text || item.body || "" })),
  ];
}

function pretty(body) {
  if (body === null || body === undefined) return "";
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return String(body);
  }
}

function eventType(item) {
  try {
    const body = JSON.parse(item.body);
    return body.type || "";
  } catch {
    return item.subject || "";
  }
}

function webhookCard(item) {
  const verified = item.verified;
  const badge =
    verified === true
      ? el("span", { class: "verified yes", title: "signature verified", text: "✓ verified" })
      : verified === false
        ? el("span", { class: "verified no", title: "signature did not verify", text: "✗ not verified" })
        : el("span", { class: "meta", text: "signature not checked" });
  return [
    el("header", {}, el("span", { class: "kind webhook", text: "webhook" }), el("span", { class: "subject", text: eventType(item) }), badge, meta(item)),
    el("details", {}, el("summary", { text: `Body · to ${item.to || "?"}` }), el("pre", { class: "webhook-body", text: pretty(item.body) })),
  ];
}

const CARDS = { email: emailCard, sms: smsCard, webhook: webhookCard };

function render() {
  const visible = latest.filter((item) => !shown[item.kind] || shown[item.kind].checked);
  fill(
    items,
    visible.map((item) => el("li", { class: `outbox-item ${item.kind}`, "data-kind": item.kind }, (CARDS[item.kind] || smsCard)(item))),
  );
  if (!visible.length) items.append(el("li", { class: "hint", text: "Nothing received yet." }));
}

async function refresh() {
  try {
    const params = new URLSearchParams({ limit: "100" });
    const to = recipient.value.trim();
    if (to) params.set("to", to);
    const { data } = await api(`/v1/dev/outbox?${params}`);
    problem.hidden = true;
    const key = JSON.stringify(data.items);
    status.textContent = `${data.items.length} message(s) · updated ${new Date().toLocaleTimeString()}`;
    if (key === last) return; // unchanged: keep the iframes as they are
    last = key;
    latest = data.items;
    render();
  } catch (error) {
    problem.hidden = false;
    problem.textContent = `Could not read the outbox: ${error.message}`;
  }
}

for (const box of Object.values(shown)) box.addEventListener("change", render);
document.getElementById("refresh").addEventListener("click", refresh);
recipient.addEventListener("change", () => {
  const url = new URL(location.href);
  if (recipient.value.trim()) url.searchParams.set("to", recipient.value.trim());
  else url.searchParams.delete("to");
  history.replaceState(null, "", url);
  refresh();
});
setInterval(() => {
  if (auto.checked && !document.hidden) refresh();
}, REFRESH_MS);
refresh();
