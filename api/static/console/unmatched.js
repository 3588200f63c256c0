// Unmatched scans (#/unmatched): tracking numbers whose scans are parked because no order names
// them (GET /v1/agent/unmatched), searched by number prefix or carrier, a page at a time, with
// "Link to order" (POST /v1/agent/unmatched/{number}/link): the link agent then releases the
// scans onto that order and the number leaves the list. This module owns its own view: it
// builds its section, follows the location hash after the console's router has run, and hides
// the console's sections while it is shown.
import { age, agentToken, api, ApiError, el, fill, timeEl, words } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const HASH = "#/unmatched";
const OTHERS = ["queue", "order", "team", "webhooks"];
const PAGE = 50;
const WRITERS = new Set(["agent", "supervisor"]);

const section = el("section", { id: "unmatched", hidden: true, "aria-labelledby": "unmatched-title" },
  el("h1", { id: "unmatched-title", tabindex: "-1" }, "Unmatched scans"),
  el("p", { class: "muted" }, "Scans whose tracking number no order names yet. Link a number to its order and its scans follow."),
  el("form", { id: "unmatched-search", class: "card row", role: "search" },
    el("div", {},
      el("label", { for: "unmatched-q" }, "Tracking number or carrier"),
      el("input", { id: "unmatched-q", maxlength: "64", placeholder: "e.g. 1Z999 or dhl" })),
    el("button", { type: "submit" }, "Search")),
  el("div", { id: "unmatched-error", class: "error", role: "alert" }),
  el("p", { id: "unmatched-count", class: "muted" }),
  el("p", { id: "unmatched-status", class: "notice", role: "status", "aria-live": "polite" }),
  el("div", { id: "unmatched-body" }),
  el("div", { class: "actions" },
    el("button", { type: "button", id: "unmatched-more", class: "secondary", hidden: true }, "More")));

let cursor = null;
let shown = [];

function writer(token) {
  try {
    const claims = JSON.parse(atob(token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/")));
    return (claims.roles || []).some((role) => WRITERS.has(role));
  } catch {
    return false;
  }
}

function failed(error) {
  if (error instanceof ApiError && error.status === 401) {
    location.hash = "#/queue"; // the console's router signs out
    return;
  }
  $("unmatched-error").textContent = error.message;
}

function linkForm(row) {
  const number = row.tracking_number;
  const form = el("form", { class: "row", "data-link": number, "aria-label": `Link ${number} to an order` },
    el("div", {}, el("label", { for: `link-order-${number}` }, "Order id"),
      el("input", { id: `link-order-${number}`, name: "order_id", required: true, maxlength: "128" })),
    el("div", {}, el("label", { for: `link-note-${number}` }, "Note"),
      el("input", { id: `link-note-${number}`, name: "note", maxlength: "2000" })),
    el("button", { type: "submit" }, "Link"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    const orderId = form.elements.order_id.value.trim();
    const note = form.elements.note.value.trim();
    const body = { order_id: orderId };
    if (row.carrier) body.carrier = row.carrier;
    if (note) body.note = note;
    button.disabled = true;
    $("unmatched-error").textContent = "";
    try {
      await api(`/v1/agent/unmatched/${encodeURIComponent(number)}/link`, { method: "POST", token: agentToken.get(), body });
      $("unmatched-status").textContent = `${number} linked to ${orderId}: its ${row.scans} scan(s) are moving to the order.`;
      setTimeout(() => { if (!section.hidden) load(); }, 1500);
    } catch (error) {
      failed(error);
      button.disabled = false;
    }
  });
  return form;
}

function render() {
  const token = agentToken.get();
  const canLink = writer(token);
  if (!shown.length) {
    fill($("unmatched-body"), el("p", { class: "muted", id: "unmatched-empty" }, "No parked scans match."));
    return;
  }
  fill($("unmatched-body"), el("div", { class: "table-wrap" }, el("table", { id: "unmatched-table" },
    el("caption", { class: "sr-only" }, "Parked tracking numbers, newest first"),
    el("thead", {}, el("tr", {}, ["Tracking number", "Carrier", "Scans", "Latest status", "First parked", "Waiting", "Actions"]
      .map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, shown.map((row) => {
      const cell = el("td", {});
      if (canLink) {
        cell.append(el("button", {
          type: "button", class: "secondary", "data-action": "link",
          onclick: (event) => event.currentTarget.replaceWith(linkForm(row)),
        }, "Link to order"));
      }
      return el("tr", { "data-number": row.tracking_number },
        el("td", { class: "code" }, row.tracking_number),
        el("td", {}, row.carrier || ""),
        el("td", { class: "num" }, String(row.scans)),
        el("td", {}, words(row.latest_status)),
        el("td", {}, timeEl(row.first_parked_at)),
        el("td", {}, age(row.first_parked_at)),
        cell);
    })))));
}

async function load(more = false) {
  const q = $("unmatched-q").value.trim();
  const params = new URLSearchParams({ limit: String(PAGE) });
  if (q) params.set("q", q);
  if (more && cursor) params.set("cursor", cursor);
  try {
    const { data } = await api(`/v1/agent/unmatched?${params}`, { token: agentToken.get() });
    shown = more ? shown.concat(data.numbers) : data.numbers;
    cursor = data.next_cursor;
    $("unmatched-error").textContent = "";
    $("unmatched-more").hidden = cursor === null;
    $("unmatched-count").textContent = `${data.total} number(s) parked in all.`;
    render();
  } catch (error) {
    failed(error);
  }
}

function follow() {
  const here = location.hash === HASH && Boolean(agentToken.get());
  section.hidden = !here;
  if (!here) return;
  for (const id of OTHERS) if ($(id)) $(id).hidden = true;
  load().then(() => $("unmatched-title").focus());
}

$("content").append(section);
$("unmatched-search").addEventListener("submit", (event) => { event.preventDefault(); load(); });
$("unmatched-more").addEventListener("click", () => load(true));
window.addEventListener("hashchange", follow); // after the console's own router
follow();
