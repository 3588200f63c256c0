// Working exceptions to the end: take / give back / assign, escalate, notes per order and per
// exception, bulk acknowledge/resolve, a message to the customer, and the supervisors' team
// queue. Every action is a POST the server turns into an event; the result comes back on the
// live feed like any other change, so every open console shows it.
import { age, api, ApiError, el, fill, formatDateTime, timeEl, words } from "/static/common.js";

const $ = (id) => document.getElementById(id);

// who the token names (for showing the right controls only: the server decides)
export function whoAmI(token) {
  try {
    const part = token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
    const bytes = Uint8Array.from(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    const roles = Array.isArray(claims.roles) ? claims.roles : [];
    return { id: String(claims.sub || ""), roles, supervisor: roles.includes("supervisor"), acts: roles.includes("agent") || roles.includes("supervisor") };
  } catch {
    return { id: "", roles: [], supervisor: false, acts: false };
  }
}

function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// a POST with an Idempotency-Key: the same submission retried is one event
async function post(path, body, token, key = idempotencyKey()) {
  const response = await fetch(path, {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json", Authorization: `Bearer ${token}`, "Idempotency-Key": key },
    body: JSON.stringify(body),
    cache: "no-store",
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { reason: text }; }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// ---- the queue: filter, assignee, per-row actions, bulk -----------------------------------------

// "mine" | "unassigned" | "escalated" | "all"
export function shownBy(row, choice, me) {
  if (choice === "mine") return row.assignee === me.id;
  if (choice === "unassigned") return !row.assignee;
  if (choice === "escalated") return Boolean(row.escalated);
  return true;
}

export function assigneeCell(row, me) {
  return el("td", { class: "assignee", "data-assignee": row.assignee || "" },
    row.assignee ? (row.assignee === me.id ? `${row.assignee} (me)` : row.assignee) : el("span", { class: "muted" }, "unassigned"),
    row.escalated ? el("div", {}, el("span", { class: "pill escalated", title: row.escalation_reason || "" }, `escalated${row.escalated_to ? ` to ${row.escalated_to}` : ""}`)) : null,
    row.case_number ? el("div", { class: "muted" }, `Case ${row.case_number}`) : null);
}

export class Work {
  constructor({ token, onError, onSent }) {
    this.token = token; // a function: the current token
    this.onError = onError; // (error, where)
    this.onSent = onSent; // (exception ids, performance.now() when it was sent) the action is on its way
    this.selected = new Set();
    this.templates = null;
    this.teamSort = "age";
  }

  get me() {
    return whoAmI(this.token());
  }

  // the buttons of one exception (queue row or order page); none for a viewer
  buttons(row) {
    const me = this.me;
    if (!me.acts || row.state === "resolved") return [];
    const mine = row.assignee === me.id;
    const take = !mine && (!row.assignee || me.supervisor);
    const giveBack = row.assignee && (mine || me.supervisor);
    return [
      take ? el("button", { type: "button", class: "secondary", "data-action": "take", onclick: () => this.assign(row, me.id) }, row.assignee ? "Take over" : "Take") : null,
      giveBack ? el("button", { type: "button", class: "secondary", "data-action": "give-back", onclick: () => this.assign(row, null) }, "Give back") : null,
      me.supervisor ? el("button", { type: "button", class: "secondary supervisor", "data-action": "assign-to", onclick: () => this.openAssign(row) }, "Assign to…") : null,
      row.escalated ? null : el("button", { type: "button", class: "secondary", "data-action": "escalate", onclick: () => this.openEscalate(row) }, "Escalate"),
    ];
  }

  checkbox(row) {
    if (!this.me.acts) return el("td", {});
    return el("td", { class: "select" }, el("input", {
      type: "checkbox", "aria-label": `Select ${words(row.type)} on ${row.order_number || row.order_id}`,
      checked: this.selected.has(row.exception_id),
      onchange: (event) => { this.toggle(row.exception_id, event.target.checked); },
    }));
  }

  toggle(id, on) {
    if (on) this.selected.add(id); else this.selected.delete(id);
    this.renderBulk();
  }

  // keep only what is still shown; the header checkbox selects every shown row
  shown(ids) {
    for (const id of [...this.selected]) if (!ids.includes(id)) this.selected.delete(id);
    this.shownIds = ids;
    const all = $("select-all");
    if (all) {
      all.hidden = !this.me.acts;
      all.checked = ids.length > 0 && ids.every((id) => this.selected.has(id));
      all.onchange = () => {
        for (const id of ids) if (all.checked) this.selected.add(id); else this.selected.delete(id);
        for (const box of document.querySelectorAll("#queue-table td.select input")) box.checked = all.checked;
        this.renderBulk();
      };
    }
    this.renderBulk();
  }

  renderBulk() {
    let bar = $("bulk");
    if (!bar) {
      bar = el("form", { id: "bulk", class: "card row", "aria-label": "Act on the selected exceptions", hidden: true });
      $("queue-table").closest(".table-wrap").before(bar);
    }
    const count = this.selected.size;
    bar.hidden = count === 0;
    if (!count) return;
    const note = el("input", { id: "bulk-note", maxlength: 2000, placeholder: "note (optional)" });
    const result = el("div", { id: "bulk-result", role: "status", class: "muted" }, this.lastBulk || "");
    const run = (action) => async (event) => {
      event.preventDefault();
      await this.bulk(action, note.value.trim());
    };
    fill(bar,
      el("p", { class: "selected-count" }, `${count} selected`),
      el("div", {}, el("label", { for: "bulk-note" }, "Note for all"), note),
      el("button", { type: "button", "data-bulk": "acknowledge", onclick: run("acknowledge") }, "Acknowledge selected"),
      el("button", { type: "button", "data-bulk": "resolve", onclick: run("resolve") }, "Resolve selected"),
      result);
  }

  async bulk(action, note) {
    const ids = [...this.selected];
    const at = performance.now();
    try {
      const data = await post("/v1/agent/exceptions/bulk", { action, exception_ids: ids, ...(note ? { note } : {}) }, this.token());
      const refused = data.results.filter((r) => r.status === "refused");
      this.lastBulk = `${words(action)}: ${data.accepted} accepted` + (refused.length ? `, ${refused.length} refused (${refused.map((r) => r.reason).join("; ")})` : "");
      this.selected.clear();
      this.onSent(data.results.filter((r) => r.status === "accepted").map((r) => r.exception_id), at);
    } catch (error) {
      this.lastBulk = error.message;
      this.onError(error, "queue-error");
    }
    this.renderBulk();
    const bar = $("bulk");
    if (bar && this.lastBulk) {
      bar.hidden = false;
      fill(bar, el("div", { id: "bulk-result", role: "status" }, this.lastBulk));
    }
  }

  // ---- assign / escalate ------------------------------------------------------------------------

  async assign(row, assignee, key) {
    const at = performance.now();
    try {
      await post(`/v1/agent/exceptions/${encodeURIComponent(row.exception_id)}/assign`, { assignee, order_id: row.order_id }, this.token(), key);
      this.onSent([row.exception_id], at);
      return true;
    } catch (error) {
      this.onError(error, "queue-error");
      return false;
    }
  }

  dialog(id, title, fields, confirm, onConfirm) {
    $(id)?.remove();
    const error = el("div", { class: "error", role: "alert" });
    const key = idempotencyKey(); // one per opening: a retried confirm is one event
    const box = el("dialog", { id, "aria-labelledby": `${id}-title` }, el("form", { method: "dialog", onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = "";
      try {
        await onConfirm(key);
        box.close();
        box.remove();
      } catch (problem) {
        error.textContent = problem.message;
      }
    } }, el("h2", { id: `${id}-title` }, title), fields, error, el("div", { class: "actions" },
      el("button", { type: "submit" }, confirm),
      el("button", { type: "button", class: "secondary", onclick: () => { box.close(); box.remove(); } }, "Cancel"))));
    document.querySelector("main").append(box);
    box.showModal();
    box.querySelector("input, textarea, select")?.focus();
  }

  openAssign(row) {
    const input = el("input", { id: "assign-to-agent", required: true, maxlength: 128, value: row.assignee || "" });
    this.dialog("assign-dialog", "Assign exception", [
      el("p", { class: "muted" }, `${words(row.type)} on order ${row.order_number || row.order_id}`),
      el("label", { for: "assign-to-agent" }, "Agent id"), input,
    ], "Assign", async (key) => {
      const at = performance.now();
      await post(`/v1/agent/exceptions/${encodeURIComponent(row.exception_id)}/assign`, { assignee: input.value.trim(), order_id: row.order_id }, this.token(), key);
      this.onSent([row.exception_id], at);
    });
  }

  openEscalate(row) {
    const reason = el("textarea", { id: "escalate-reason", required: true, rows: 3, maxlength: 2000 });
    const to = el("input", { id: "escalate-to", maxlength: 128, placeholder: "any supervisor" });
    this.dialog("escalate-dialog", "Escalate to a supervisor", [
      el("p", { class: "muted" }, `${words(row.type)} on order ${row.order_number || row.order_id}`),
      el("label", { for: "escalate-reason" }, "Reason"), reason,
      el("label", { for: "escalate-to" }, "Supervisor (optional)"), to,
    ], "Escalate", async (key) => {
      const body = { reason: reason.value.trim(), order_id: row.order_id };
      if (to.value.trim()) body.to = to.value.trim();
      const at = performance.now();
      await post(`/v1/agent/exceptions/${encodeURIComponent(row.exception_id)}/escalate`, body, this.token(), key);
      this.onSent([row.exception_id], at);
    });
  }

  // ---- the order page: notes, messages ------------------------------------------------------------

  noteList(notes, label) {
    return notes.length
      ? el("ol", { class: "notes", "aria-label": label }, notes.map((n) => el("li", { "data-note": n.note_id, "data-action": n.action },
        el("div", { class: "note-head" }, el("strong", {}, n.by || "someone"), " · ", timeEl(n.at),
          n.action !== "note" ? el("span", { class: "pill" }, n.action) : null),
        el("p", {}, n.text))))
      : el("p", { class: "muted" }, "No notes yet.");
  }

  noteForm(orderId, exceptionId, id) {
    if (!this.me.acts) return null;
    const text = el("textarea", { id, rows: 2, maxlength: 2000, required: true });
    const error = el("div", { class: "error", role: "alert" });
    let key = idempotencyKey();
    return el("form", { class: "note-form", "data-note-form": exceptionId || "order", onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = "";
      const body = { text: text.value.trim() };
      if (exceptionId) body.exception_id = exceptionId;
      const at = performance.now();
      try {
        await post(`/v1/agent/orders/${encodeURIComponent(orderId)}/notes`, body, this.token(), key);
        key = idempotencyKey();
        text.value = "";
        this.onSent(exceptionId ? [exceptionId] : [], at);
      } catch (problem) {
        error.textContent = problem.message;
      }
    } }, el("label", { for: id }, exceptionId ? "Add a note on this exception" : "Add a note on the order"), text, error,
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Add note")));
  }

  // one exception's assignment, escalation, case and its own notes (order page)
  exceptionWork(t, e) {
    const notes = (t.notes || []).filter((n) => n.exception_id === e.exception_id);
    return el("div", { class: "exception-work", "data-exception-work": e.exception_id },
      el("p", {}, e.assignee ? `Assigned to ${e.assignee}${e.assigned_by && e.assigned_by !== e.assignee ? ` by ${e.assigned_by}` : ""}` : "Unassigned",
        e.escalated_at ? el("span", { class: "escalation" }, ` · escalated by ${e.escalated_by} ${formatDateTime(e.escalated_at)}${e.escalated_to ? ` to ${e.escalated_to}` : ""}: ${e.escalation_reason || ""}`) : null,
        e.case ? el("span", {}, " · case ", e.case.url ? el("a", { href: e.case.url, rel: "noopener", target: "_blank" }, e.case.case_number) : e.case.case_number) : null),
      el("details", { open: notes.length > 0 }, el("summary", {}, `Notes on this exception (${notes.length})`),
        this.noteList(notes, `Notes on ${words(e.type)}`),
        this.noteForm(t.order_id, e.exception_id, `note-${e.exception_id}`)));
  }

  async loadTemplates() {
    if (!this.templates) {
      const { data } = await api("/v1/agent/message-templates", { token: this.token() });
      this.templates = data.templates;
    }
    return this.templates;
  }

  // the order's notes, the customer messages sent, and the form to send one
  orderWork(t) {
    const box = el("div", { class: "order-work" },
      el("h2", {}, "Notes"),
      el("div", { id: "order-notes" }, this.noteList(t.notes || [], "Notes on this order")),
      this.noteForm(t.order_id, null, "note-order"),
      el("h2", {}, "Messages to the customer"),
      (t.messages || []).length
        ? el("ul", { class: "messages", "aria-label": "Messages sent" }, t.messages.map((m) => el("li", { "data-message": m.message_id },
          el("strong", {}, words(m.template)), ` · ${m.by} · `, timeEl(m.at), m.text ? el("p", {}, m.text) : null)))
        : el("p", { class: "muted" }, "None sent."),
      el("div", { id: "notify-customer" }));
    if (this.me.acts) this.messageForm(t, box.querySelector("#notify-customer"));
    return box;
  }

  async messageForm(t, box) {
    let templates;
    try {
      templates = await this.loadTemplates();
    } catch (error) {
      fill(box, el("p", { class: "muted" }, `Templates unavailable: ${error.message}`));
      return;
    }
    const template = el("select", { id: "message-template", required: true }, templates.map((m) => el("option", { value: m.name }, m.label)));
    const about = el("select", { id: "message-exception" }, el("option", { value: "" }, "the order"),
      (t.exceptions || []).map((e) => el("option", { value: e.exception_id }, `${words(e.type)} (${e.state})`)));
    const text = el("textarea", { id: "message-text", rows: 2, maxlength: 2000 });
    const status = el("div", { role: "status" });
    let key = idempotencyKey();
    fill(box, el("form", { class: "card", id: "message-form", "aria-label": "Notify the customer", onsubmit: async (event) => {
      event.preventDefault();
      status.textContent = "";
      const body = { template: template.value };
      if (text.value.trim()) body.text = text.value.trim();
      if (about.value) body.exception_id = about.value;
      try {
        await post(`/v1/agent/orders/${encodeURIComponent(t.order_id)}/messages`, body, this.token(), key);
        key = idempotencyKey();
        text.value = "";
        status.textContent = "Sent: the customer gets it from the notification service.";
        this.onSent([], performance.now());
      } catch (error) {
        status.textContent = error.message;
        status.className = "error";
      }
    } },
    el("h3", {}, "Notify the customer"),
    el("label", { for: "message-template" }, "Message template"), template,
    el("label", { for: "message-exception" }, "About"), about,
    el("label", { for: "message-text" }, "Your words (where the template has room)"), text,
    status, el("div", { class: "actions" }, el("button", { type: "submit" }, "Send to the customer"))));
  }

  // ---- the supervisors' team queue --------------------------------------------------------------

  async showTeam(box) {
    let data;
    try {
      ({ data } = await api(`/v1/agent/team-queue?sort=${this.teamSort}`, { token: this.token() }));
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) {
        fill(box, el("p", { class: "error" }, "The team queue is for supervisors."));
        return;
      }
      this.onError(error, "team-error");
      return;
    }
    const now = Date.parse(data.as_of) || Date.now();
    const sort = el("select", { id: "team-sort", onchange: () => { this.teamSort = sort.value; this.showTeam(box); } },
      el("option", { value: "age", selected: this.teamSort === "age" }, "oldest first"),
      el("option", { value: "assignee", selected: this.teamSort === "assignee" }, "assignee, then oldest"));
    fill(box,
      el("p", { class: "notice", id: "team-summary" }, `${data.total} open or acknowledged, ${data.unassigned} unassigned`),
      el("div", { class: "card row" }, el("div", {}, el("label", { for: "team-sort" }, "Sort by"), sort)),
      el("div", { class: "table-wrap" }, el("table", { id: "team-counts" },
        el("caption", {}, "Per assignee"),
        el("thead", {}, el("tr", {}, ["Assignee", "Exceptions", "Open", "Escalated", "Oldest waiting"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, data.assignees.map((g) => el("tr", { "data-assignee": g.assignee || "" },
          el("td", {}, g.assignee || el("span", { class: "muted" }, "unassigned")),
          el("td", { class: "num" }, g.count), el("td", { class: "num" }, g.open), el("td", { class: "num" }, g.escalated),
          el("td", {}, g.oldest_age_s === null ? "" : age(new Date(now - g.oldest_age_s * 1000).toISOString(), now))))))),
      el("div", { class: "table-wrap" }, el("table", { id: "team-table" },
        el("caption", {}, this.teamSort === "assignee" ? "By assignee, oldest first" : "Oldest first"),
        el("thead", {}, el("tr", {}, ["Waiting", "Assignee", "Severity", "Type", "Order", "State", "Actions"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, data.exceptions.map((row) => el("tr", { "data-exception": row.exception_id },
          el("td", { title: row.opened_at || "" }, age(row.opened_at, now)),
          assigneeCell(row, this.me),
          el("td", {}, el("span", { class: `pill ${row.severity}` }, row.severity || "")),
          el("td", {}, words(row.type)),
          el("td", {}, el("a", { href: `#/order/${encodeURIComponent(row.order_id)}` }, row.order_number || row.order_id)),
          el("td", {}, el("span", { class: `pill ${row.state}` }, row.state)),
          el("td", {}, el("div", { class: "actions" }, this.buttons(row)))))))));
  }
}
