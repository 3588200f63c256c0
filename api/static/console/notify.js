// Notifications in the console: per order, what was sent, is queued or was suppressed and why
// (GET /v1/agent/orders/{id}/notifications) with a Re-send for sent or failed webhook messages;
// and the Webhooks view: every outbound subscription with its state (active, paused, disabled
// with the reason), pause / resume (which also re-enables) and its delivery log.
import { api, ApiError, el, fill, formatDateTime, words } from "/static/common.js";

const WRITERS = new Set(["agent", "supervisor", "admin"]);

// what the signed-in token may do (the server decides; this only hides buttons it would refuse)
function canChange(token) {
  try {
    const claims = JSON.parse(atob(token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/")));
    return (claims.roles || []).some((role) => WRITERS.has(role));
  } catch {
    return false;
  }
}

function table(caption, head, body, attrs = {}) {
  return el("div", { class: "table-wrap" }, el("table", attrs,
    el("caption", { class: "sr-only" }, caption),
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, body)));
}

function refused(error, onAuthError) {
  if (error instanceof ApiError && error.status === 401) {
    onAuthError(error);
    return true;
  }
  return false;
}

// ---- an order's notifications --------------------------------------------------------------

function resendable(row) {
  return row.resendable && (row.channel === "webhook" || row.state === "failed");
}

export async function showNotifications(box, orderId, token, onAuthError) {
  if (!box) return;
  fill(box, el("h2", {}, "Notifications"), el("p", { class: "muted" }, "Reading the notification ledger…"));
  let data;
  try {
    ({ data } = await api(`/v1/agent/orders/${encodeURIComponent(orderId)}/notifications`, { token }));
  } catch (error) {
    if (!refused(error, onAuthError)) fill(box, el("h2", {}, "Notifications"), el("p", { class: "muted" }, `Notifications unavailable: ${error.message}`));
    return;
  }
  const writer = canChange(token);
  const status = el("p", { class: "notice", role: "status", id: "notifications-status" });
  const rows = data.notifications;
  const resend = async (row, button) => {
    button.disabled = true;
    try {
      await api(`/v1/notify/messages/${encodeURIComponent(row.message_id)}/resend`, { method: "POST", token });
      status.textContent = `Re-send of ${words(row.kind)} to ${row.recipient} queued.`;
      setTimeout(() => showNotifications(box, orderId, token, onAuthError), 1500);
    } catch (error) {
      if (!refused(error, onAuthError)) status.textContent = `Could not re-send: ${error.message}`;
      button.disabled = false;
    }
  };
  fill(box,
    el("h2", {}, "Notifications"),
    rows.length
      ? table("Messages about this order", ["Planned", "What", "Channel", "Recipient", "State", "Reason", "Attempts", "Sent", "Actions"],
        rows.map((row) => el("tr", { "data-message": row.message_id, "data-state": row.state, "data-channel": row.channel },
          el("td", {}, formatDateTime(row.planned_at)),
          el("td", {}, words(row.kind), row.manual ? el("div", { class: "muted" }, "re-sent by an agent") : null),
          el("td", {}, row.channel),
          el("td", { class: "code" }, row.recipient),
          el("td", {}, el("span", { class: `pill ${row.state === "failed" ? "high" : row.state === "sent" ? "delivered" : ""}` }, row.state)),
          el("td", {}, row.reason ? words(row.reason) : "", row.error ? el("div", { class: "muted" }, row.error) : null,
            row.status_code ? el("div", { class: "muted" }, `HTTP ${row.status_code}${row.latency_ms != null ? ` · ${Math.round(row.latency_ms)} ms` : ""}`) : null),
          el("td", { class: "num" }, String(row.attempts)),
          el("td", {}, formatDateTime(row.sent_at)),
          el("td", {}, writer && resendable(row)
            ? el("div", { class: "actions" }, el("button", { type: "button", class: "secondary", "data-action": "resend", onclick: (event) => resend(row, event.currentTarget) }, "Re-send"))
            : ""))))
      : el("p", { class: "muted" }, "No messages planned for this order yet."),
    status);
}

// ---- the Webhooks view -----------------------------------------------------------------------

function statePill(sub) {
  const cls = sub.state === "disabled" ? "high" : sub.state === "paused" ? "medium" : "delivered";
  return el("span", { class: `pill ${cls}`, "data-state": sub.state }, sub.state);
}

async function deliveryLog(sub, token, onAuthError) {
  const box = el("div", { class: "delivery-log", "data-log": sub.id }, el("p", { class: "muted" }, "Reading the delivery log…"));
  (async () => {
    try {
      const { data } = await api(`/v1/notify/subscriptions/${encodeURIComponent(sub.id)}/deliveries?limit=50`, { token });
      fill(box, data.deliveries.length
        ? table(`Delivery attempts to ${sub.url}`, ["At", "Event", "Message", "Attempt", "Status", "Latency", "Error"],
          data.deliveries.map((d) => el("tr", { "data-status": d.status_code ?? "" },
            el("td", {}, formatDateTime(d.at)),
            el("td", { class: "code" }, d.type || ""),
            el("td", { class: "code" }, d.message_id || ""),
            el("td", { class: "num" }, d.attempt ?? ""),
            el("td", { class: "num" }, d.status_code ?? "—"),
            el("td", { class: "num" }, d.latency_ms != null ? `${Math.round(d.latency_ms)} ms` : ""),
            el("td", {}, d.error || ""))))
        : el("p", { class: "muted" }, "No delivery attempts yet."));
    } catch (error) {
      if (!refused(error, onAuthError)) fill(box, el("p", { class: "muted" }, `Delivery log unavailable: ${error.message}`));
    }
  })();
  return box;
}

export async function showWebhooks(box, token, onAuthError) {
  fill(box, el("p", { class: "muted" }, "Loading subscriptions…"));
  let data;
  try {
    ({ data } = await api("/v1/notify/subscriptions", { token }));
  } catch (error) {
    if (!refused(error, onAuthError)) fill(box, el("div", { class: "error", role: "alert" }, error.message));
    return;
  }
  const writer = canChange(token);
  const status = el("p", { class: "notice", role: "status", id: "webhooks-status" });
  const logs = el("div", { id: "webhook-logs" });
  const reveal = el("div", { id: "webhook-reveal" });
  const act = async (sub, action, button) => {
    button.disabled = true;
    try {
      await api(`/v1/notify/subscriptions/${encodeURIComponent(sub.id)}/${action}`, { method: "POST", token });
      await showWebhooks(box, token, onAuthError);
      const done = { pause: "paused", resume: sub.state === "disabled" ? "re-enabled" : "resumed" }[action];
      const line = box.querySelector("#webhooks-status");
      if (line) line.textContent = `${sub.url} ${done}.`;
    } catch (error) {
      if (!refused(error, onAuthError)) status.textContent = `Could not ${action}: ${error.message}`;
      button.disabled = false;
    }
  };
  const secretShown = (title, secret, note) => revealSecret(reveal, title, secret, note);
  const rotate = async (sub, button) => {
    button.disabled = true;
    try {
      const { data: rotated } = await api(`/v1/notify/subscriptions/${encodeURIComponent(sub.id)}/rotate-secret`, { method: "POST", token, body: {} });
      secretShown(`New signing secret for ${sub.description || sub.url}`, rotated.secret,
        `Shown once: give it to the receiver now. The previous secret keeps signing until ${formatDateTime(rotated.previous_secret_until)}.`);
    } catch (error) {
      if (!refused(error, onAuthError)) status.textContent = `Could not rotate the secret: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  };
  const showLog = async (sub) => {
    fill(logs, el("h2", {}, `Delivery log: ${sub.description || sub.url}`), await deliveryLog(sub, token, onAuthError));
    logs.scrollIntoView({ block: "nearest" });
  };
  const subs = data.subscriptions;
  fill(box,
    el("p", { class: "muted" }, "Outbound webhook endpoints, signed per Standard Webhooks. A subscription that kept failing is disabled with the reason; resuming re-enables it."),
    subs.length
      ? table("Webhook subscriptions", ["Endpoint", "Events", "State", "Since", "Actions"],
        subs.map((sub) => el("tr", { "data-subscription": sub.id },
          el("td", {}, el("div", { class: "code" }, sub.url), sub.description ? el("div", { class: "muted" }, sub.description) : null),
          el("td", {}, sub.event_types.join(", ")),
          el("td", {}, statePill(sub), sub.disabled_reason ? el("div", { class: "muted disabled-reason" }, sub.disabled_reason) : null),
          el("td", {}, formatDateTime(sub.disabled_at || sub.updated_at)),
          el("td", {}, el("div", { class: "actions" },
            writer && sub.state === "active" ? el("button", { type: "button", class: "secondary", "data-action": "pause", onclick: (e) => act(sub, "pause", e.currentTarget) }, "Pause") : null,
            writer && sub.state !== "active" ? el("button", { type: "button", class: "secondary", "data-action": "resume", onclick: (e) => act(sub, "resume", e.currentTarget) }, sub.state === "disabled" ? "Re-enable" : "Resume") : null,
            writer ? el("button", { type: "button", class: "secondary", "data-action": "rotate", onclick: (e) => rotate(sub, e.currentTarget) }, "Rotate secret") : null,
            el("button", { type: "button", class: "secondary", "data-action": "log", onclick: () => showLog(sub) }, "Delivery log"))))), { id: "webhooks-table" })
      : el("p", { class: "muted" }, "No subscriptions yet."),
    status,
    reveal,
    writer ? createForm(box, token, onAuthError) : null,
    logs);
}

function revealSecret(target, title, secret, note) {
  if (!target) return;
  fill(target, el("div", { class: "card", role: "status", id: "webhook-secret" },
    el("strong", {}, title), el("p", { class: "hint" }, note),
    el("code", { class: "secret" }, secret)));
}

// a new subscription: its secret is answered once, and shown once
function createForm(box, token, onAuthError) {
  const url = el("input", { id: "webhook-url", type: "url", required: true, placeholder: "https://example.com/wismo-events", maxlength: "2000" });
  const types = el("input", { id: "webhook-types", value: "*", "aria-describedby": "webhook-types-hint" });
  const description = el("input", { id: "webhook-description", maxlength: "500" });
  const problem = el("div", { class: "error", role: "alert", id: "webhook-create-error" });
  const form = el("form", { id: "webhook-create", class: "card", novalidate: true },
    el("h2", {}, "Add a subscription"),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "webhook-url" }, "Endpoint URL"), url),
      el("div", {}, el("label", { for: "webhook-types" }, "Event types"), types),
      el("div", {}, el("label", { for: "webhook-description" }, "Description"), description),
      el("button", { type: "submit" }, "Add")),
    el("p", { class: "hint", id: "webhook-types-hint" }, "Comma-separated: order.status_changed, shipment.milestone, exception.*, return.*, refund.issued, or * for all."),
    problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    const body = {
      url: url.value.trim(),
      event_types: types.value.split(",").map((t) => t.trim()).filter(Boolean),
      ...(description.value.trim() ? { description: description.value.trim() } : {}),
    };
    try {
      const { data: created } = await api("/v1/notify/subscriptions", { method: "POST", token, body });
      await showWebhooks(box, token, onAuthError);
      revealSecret(box.querySelector("#webhook-reveal"), `Signing secret for ${created.description || created.url}`, created.secret,
        "Shown once: give it to the receiver now (it verifies the webhook-signature header with it).");
    } catch (error) {
      if (!refused(error, onAuthError)) problem.textContent = error.message;
    }
  });
  return form;
}
