// The status page's self-service piece: report a problem (with a photo), ask to return delivered
// items or to cancel items not yet being prepared, and follow each request's state. What may be
// asked for, and every wording, comes from the order document (projections/customer_order.py);
// the server checks everything again. Each form sends an Idempotency-Key, so a double click or
// a retry after a network error is one request.
import { ApiError, el, fill, parseWhen, place, timeEl } from "/static/common.js";
import { i18n, t } from "/static/track/labels.js";

// the server's defaults (selfservice.photo_max_bytes, the accepted types); it enforces its own
const PHOTO_MAX_BYTES = 5000000;
const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
// a return reason is sent (and kept) in English, the value; the reader sees it in their language
const RETURN_REASONS = [
  ["reason_fit", "Does not fit"], ["reason_damaged", "Damaged or faulty"], ["reason_not_described", "Not as described"],
  ["reason_wrong_item", "Wrong item sent"], ["reason_changed_mind", "Changed my mind"], ["reason_other", "Other"],
];

function reasonText(reason) {
  const known = RETURN_REASONS.find(([, english]) => english === reason);
  return known ? t(known[0], known[1]) : reason;
}

// a label whose placeholders are nodes (a <time>, a code span): its text around them, in order
function tNodes(key, fallback, values) {
  const keep = Object.fromEntries(Object.keys(values).map((name) => [name, `%(${name})s`]));
  return t(key, fallback, keep).split(/%\((\w+)\)s/)
    .map((part, index) => (index % 2 ? values[part] ?? "" : part)).filter((part) => part !== "");
}

// dates, times and amounts in the page's language
function localDay(value) {
  const when = parseWhen(value);
  return when ? new Intl.DateTimeFormat(i18n.lang || undefined, { weekday: "short", day: "numeric", month: "short" }).format(when) : "";
}

function localTime(value) {
  return timeEl(value, (v) => {
    const when = parseWhen(v);
    return when ? new Intl.DateTimeFormat(i18n.lang || undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }).format(when) : "";
  });
}

function money(amount, currency) {
  const value = Number(amount);
  if (!Number.isFinite(value)) return `${amount} ${currency || ""}`.trim();
  try {
    return new Intl.NumberFormat(i18n.lang || undefined, currency ? { style: "currency", currency } : { minimumFractionDigits: 2 }).format(value);
  } catch { // a currency code Intl does not know
    return `${new Intl.NumberFormat(i18n.lang || undefined, { minimumFractionDigits: 2 }).format(value)} ${currency}`;
  }
}

function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function reasonOf(error) {
  if (error instanceof ApiError && error.status === 429) return t("too_many_requests", "Too many requests for this order just now. Please try again later.");
  return error.message || t("something_wrong", "Sorry, something went wrong.");
}

export class OrderActions {
  // root: the section to fill; current(): {orderId, token}; onAuthError(error): token trouble
  constructor(root, current, onAuthError) {
    this.root = root;
    this.current = current;
    this.onAuthError = onAuthError;
    this.shape = null;
    this.lang = null;
    this.keys = {};
    this.done = null; // [key, English] of the last confirmation, worded again on a language switch
    this.requests = el("div", { id: "requests" });
    this.forms = el("div", { id: "action-forms" });
    this.status = el("p", { id: "actions-status", class: "notice", role: "status", "aria-live": "polite" });
    fill(this.root, el("h2", { id: "actions-title" }, t("help_title", "Need help with this order?")), this.status, this.requests, this.forms);
  }

  hide() {
    this.root.hidden = true;
    this.shape = null;
    this.lang = null;
    this.done = null;
  }

  async send(path, body, form) {
    const { orderId, token } = this.current();
    this.keys[form] ||= newKey();
    const headers = { Accept: "application/json", Authorization: `Bearer ${token}`, "Idempotency-Key": this.keys[form] };
    if (!(body instanceof FormData)) headers["Content-Type"] = "application/json";
    const response = await fetch(`/v1/orders/${encodeURIComponent(orderId)}/${path}`, {
      method: "POST", headers, body: body instanceof FormData ? body : JSON.stringify(body), cache: "no-store",
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new ApiError(response.status, data);
      if (response.status === 401 || response.status === 403) this.onAuthError(error);
      throw error;
    }
    delete this.keys[form]; // the next submission is a new request
    return data;
  }

  render(view) {
    this.renderRequests(view);
    const actions = view.actions || {};
    const now = Date.now();
    const returnable = (actions.returnable || []).filter((line) => Date.parse(line.returnable_until) >= now);
    const parcels = (view.shipments || []).map((s) => s.tracking_number).filter(Boolean);
    const shape = JSON.stringify([actions.problem_types, parcels, returnable, actions.cancellable]);
    if (shape !== this.shape || i18n.lang !== this.lang) { // else keep what the customer is typing
      // a new language: the forms worded anew, with what was typed in them
      const typed = i18n.lang !== this.lang && this.lang !== null
        ? Array.from(this.forms.querySelectorAll("input:not([type=file]), textarea, select"), (field) => [field.id, field.value])
        : [];
      this.shape = shape;
      this.lang = i18n.lang;
      fill(this.forms,
        this.problemForm(actions.problem_types || [], parcels),
        this.returnForm(returnable),
        this.cancelForm(actions.cancellable || []));
      for (const [id, value] of typed) {
        const field = id && this.forms.querySelector(`#${CSS.escape(id)}`);
        if (field && (field.tagName !== "SELECT" || Array.from(field.options).some((o) => o.value === value))) field.value = value;
      }
    }
    this.showDone();
    // nothing asked for and nothing to ask for (yet): no section
    this.root.hidden = !(this.forms.childElementCount || this.requests.childElementCount);
  }

  // the requests made, with their state ---------------------------------------------------

  renderRequests(view) {
    const problems = view.problems || [];
    const returns = view.returns || [];
    const cancels = view.cancel_requests || [];
    const { orderId, token } = this.current();
    fill(this.requests,
      problems.length ? [el("h3", {}, t("your_problems", "Problems you reported")), el("ul", { id: "problems-list", class: "requests" }, problems.map((p) => el("li", { "data-exception": p.exception_id, "data-state": p.state },
        el("strong", {}, p.problem_text || t("problem", "Problem")), " ",
        el("span", { class: `pill report ${p.state}` }, p.state_text),
        p.reported_at ? el("div", { class: "hint" }, tNodes("reported", "Reported %(when)s", { when: localTime(p.reported_at) })) : null,
        p.text ? el("p", {}, p.text) : null,
        p.photo ? el("img", { class: "photo", alt: t("photo_sent", "The photo you sent"), src: `/v1/orders/${encodeURIComponent(orderId)}/photos/${encodeURIComponent(p.photo.ref)}?token=${encodeURIComponent(token)}` }) : null)))] : null,
      returns.length ? [el("h3", {}, t("returns", "Returns")), el("ul", { id: "returns-list", class: "requests" }, returns.map((r) => this.returnItem(r)))] : null,
      cancels.length ? [el("h3", {}, t("cancel_requests", "Cancellation requests")), el("ul", { id: "cancels-list", class: "requests" }, cancels.map((c) => el("li", { "data-request": c.request_id, "data-status": c.status },
        el("span", { class: `pill cancel ${c.status}` }, c.status_text), " ",
        (c.lines || []).map((line) => `${line.quantity} × ${line.name || line.line_id}`).join(", "),
        c.note ? el("div", { class: "hint" }, c.note) : null)))] : null,
    );
  }

  returnItem(leg) {
    const refund = leg.refund;
    return el("li", { "data-return": leg.return_id || "", "data-status": leg.status },
      el("span", { class: `pill return ${leg.status}` }, leg.status_text), " ",
      (leg.lines || []).map((line) => `${line.quantity} × ${line.name || line.line_id}${line.reason ? ` (${reasonText(line.reason)})` : ""}`).join(", "),
      el("ol", { class: "progress", "aria-label": t("return_progress", "Return progress") }, (leg.progress || []).map((step) => el("li", {
        class: [step.done ? "done" : "", step.current ? "current" : "", step.problem ? "problem" : ""].join(" ").trim(),
        "aria-current": step.current ? "step" : null,
      }, step.label))),
      leg.tracking_number ? el("div", {}, tNodes("sent_back_with", "Sent back with %(carrier)s %(tracking)s", {
        carrier: (leg.carrier || "").toUpperCase(), tracking: el("span", { class: "code" }, leg.tracking_number),
      })) : null,
      (leg.checkpoints || []).length ? el("ol", { class: "history" }, leg.checkpoints.map((c) => el("li", {}, el("strong", {}, c.description), " · ", localTime(c.at), c.location ? ` · ${place(c.location)}` : ""))) : null,
      refund ? el("p", { class: "refund" }, refund.amount
        ? t("refunded_amount", "Refunded %(amount)s on %(date)s", { amount: money(refund.amount, refund.currency), date: localDay(refund.issued_at) })
        : t("refunded_on", "Refunded on %(date)s", { date: localDay(refund.issued_at) })) : null,
    );
  }

  // the forms -----------------------------------------------------------------------------

  problemForm(types, parcels) {
    if (!types.length) return null;
    // with several parcels, which one it is about (the agents see it)
    const which = parcels.length > 1 ? [
      el("label", { for: "problem-parcel" }, t("which_parcel", "Which parcel")),
      el("select", { id: "problem-parcel", name: "subject" },
        el("option", { value: "" }, t("whole_order", "The whole order")),
        parcels.map((number, index) => el("option", { value: number }, t("parcel_choice", "Parcel %(index)s of %(total)s (%(number)s)", { index: index + 1, total: parcels.length, number })))),
    ] : null;
    const error = el("div", { id: "problem-error", class: "error", role: "alert" });
    const photo = el("input", { id: "problem-photo", name: "photo", type: "file", accept: PHOTO_TYPES.join(","), "aria-describedby": "problem-photo-hint" });
    const form = el("form", { id: "problem-form", class: "card action", novalidate: true, "aria-labelledby": "problem-title" },
      el("h3", { id: "problem-title" }, t("report_problem", "Report a problem")),
      el("label", { for: "problem-type" }, t("what_went_wrong", "What went wrong")),
      el("select", { id: "problem-type", name: "problem" }, types.map((type) => el("option", { value: type.problem }, type.text))),
      which,
      el("label", { for: "problem-text" }, t("tell_us_more", "Tell us more")),
      el("textarea", { id: "problem-text", name: "text", rows: "3", maxlength: "2000", required: true }),
      el("label", { for: "problem-photo" }, t("photo_optional", "Photo (optional)")),
      el("p", { class: "hint", id: "problem-photo-hint" }, t("photo_hint", "A JPEG, PNG or WebP image of up to 5 MB.")),
      photo, error,
      el("div", { class: "actions" }, el("button", { type: "submit", id: "problem-submit" }, t("send_report", "Send report"))));
    form.addEventListener("submit", (event) => this.report(event, form, error));
    return form;
  }

  async report(event, form, error) {
    event.preventDefault();
    error.textContent = "";
    const text = form.querySelector("#problem-text");
    const file = form.querySelector("#problem-photo").files[0];
    if (!text.value.trim()) {
      error.textContent = t("need_text", "Please tell us what happened.");
      text.focus();
      return;
    }
    if (file && !PHOTO_TYPES.includes(file.type)) {
      error.textContent = t("photo_type", "The photo must be a JPEG, PNG or WebP image.");
      form.querySelector("#problem-photo").focus();
      return;
    }
    if (file && file.size > PHOTO_MAX_BYTES) {
      error.textContent = t("photo_size", "The photo is larger than 5 MB; please choose a smaller one.");
      form.querySelector("#problem-photo").focus();
      return;
    }
    const body = new FormData();
    body.append("problem", form.querySelector("#problem-type").value);
    body.append("text", text.value.trim());
    const parcel = form.querySelector("#problem-parcel");
    if (parcel && parcel.value) body.append("subject", parcel.value);
    if (file) body.append("photo", file, file.name);
    await this.submit(form, error, "problems", body, "problem", ["report_sent", "Thank you: your report was sent. Its state shows above."]);
  }

  quantityRows(prefix, lines, withReason) {
    return lines.map((line, index) => el("fieldset", { class: "line", "data-line": line.line_id },
      el("legend", {}, t("line_up_to", "%(name)s (up to %(quantity)s)", { name: line.name || line.line_id, quantity: line.quantity })),
      el("label", { for: `${prefix}-qty-${index}` }, t("quantity", "Quantity")),
      el("input", { id: `${prefix}-qty-${index}`, type: "number", min: "0", max: String(line.quantity), value: "0", inputmode: "numeric", "data-line": line.line_id, "data-max": String(line.quantity) }),
      withReason ? [el("label", { for: `${prefix}-reason-${index}` }, t("reason", "Reason")),
        el("select", { id: `${prefix}-reason-${index}` }, RETURN_REASONS.map(([key, english]) => el("option", { value: english }, t(key, english))))] : null,
      line.returnable_until ? el("p", { class: "hint" }, t("returnable_until", "Returnable until %(date)s", { date: localDay(line.returnable_until) })) : null,
    ));
  }

  chosen(form, prefix, withReason) {
    const lines = [];
    for (const input of form.querySelectorAll(`input[id^="${prefix}-qty-"]`)) {
      const quantity = Number(input.value);
      if (!quantity) continue;
      if (!Number.isInteger(quantity) || quantity < 0 || quantity > Number(input.dataset.max)) {
        throw new Error(t("whole_number", "Choose a whole number from 0 to %(max)s.", { max: input.dataset.max }));
      }
      const line = { line_id: input.dataset.line, quantity };
      if (withReason) line.reason = form.querySelector(`#${input.id.replace("-qty-", "-reason-")}`).value;
      lines.push(line);
    }
    if (!lines.length) throw new Error(t("choose_quantity", "Choose how many of at least one item."));
    return lines;
  }

  returnForm(lines) {
    if (!lines.length) return null;
    const error = el("div", { id: "return-error", class: "error", role: "alert" });
    const form = el("form", { id: "return-form", class: "card action", novalidate: true, "aria-labelledby": "return-title" },
      el("h3", { id: "return-title" }, t("return_items", "Return items")),
      this.quantityRows("return", lines, true), error,
      el("div", { class: "actions" }, el("button", { type: "submit", id: "return-submit" }, t("request_return", "Request return"))));
    form.addEventListener("submit", (event) => this.ask(event, form, error, "return"));
    return form;
  }

  cancelForm(lines) {
    if (!lines.length) return null;
    const error = el("div", { id: "cancel-error", class: "error", role: "alert" });
    const form = el("form", { id: "cancel-form", class: "card action", novalidate: true, "aria-labelledby": "cancel-title" },
      el("h3", { id: "cancel-title" }, t("cancel_items", "Cancel items")),
      el("p", { class: "hint" }, t("cancel_hint", "Items we have not started preparing yet can still be cancelled.")),
      this.quantityRows("cancel", lines, false),
      el("label", { for: "cancel-reason" }, t("reason_optional", "Reason (optional)")),
      el("input", { id: "cancel-reason", maxlength: "500" }), error,
      el("div", { class: "actions" }, el("button", { type: "submit", id: "cancel-submit" }, t("request_cancel", "Request cancellation"))));
    form.addEventListener("submit", (event) => this.ask(event, form, error, "cancel"));
    return form;
  }

  async ask(event, form, error, kind) {
    event.preventDefault();
    error.textContent = "";
    let lines;
    try {
      lines = this.chosen(form, kind, kind === "return");
    } catch (problem) {
      error.textContent = problem.message;
      form.querySelector("input").focus();
      return;
    }
    if (kind === "return") {
      await this.submit(form, error, "returns", { lines }, "return", ["return_sent", "Your return request was sent. Its progress shows above."]);
    } else {
      const reason = form.querySelector("#cancel-reason").value.trim();
      await this.submit(form, error, "cancellations", reason ? { lines, reason } : { lines }, "cancel", ["cancel_sent", "Your cancellation request was sent. Its state shows above."]);
    }
  }

  // the last confirmation, in the page's language (set again only when its words change)
  showDone() {
    const text = this.done ? t(...this.done) : "";
    if (this.status.textContent !== text) this.status.textContent = text;
  }

  // done: [key, English] of the confirmation shown once the request is accepted
  async submit(form, error, path, body, name, done) {
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await this.send(path, body, name);
      form.reset();
      this.done = done;
      this.showDone();
    } catch (problem) {
      error.textContent = reasonOf(problem);
      button.focus();
    } finally {
      button.disabled = false;
    }
  }
}
