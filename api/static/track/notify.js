// The status page's "Get updates" piece: subscribe an e-mail address or phone number to this
// order's updates, see where updates go (addresses shown masked), stop or resume each one.
// It talks to /v1/orders/{order_id}/notifications with the page's capability token.
import { api, ApiError, el, fill } from "/static/common.js";
import { t } from "/static/track/labels.js";

function channelWord(channel) {
  if (channel === "email") return t("channel_email", "E-mail");
  if (channel === "sms") return t("channel_sms_short", "Text message");
  return channel;
}

export class OrderUpdates {
  // root: the section to fill; current(): {orderId, token} of the order on the page;
  // onAuthError(error): the token ran out or is for another order
  constructor(root, current, onAuthError) {
    this.root = root;
    this.current = current;
    this.onAuthError = onAuthError;
    this.orderId = null;
    // what is shown, kept so that a language switch words it again: the recipients, and the
    // error and status texts as functions of the labels
    this.data = null;
    this.errorText = null;
    this.statusText = null;
    this.build();
  }

  build() {
    this.channel = el("select", { id: "updates-channel", name: "channel", "aria-describedby": "updates-hint" },
      el("option", { value: "email" }, "E-mail"),
      el("option", { value: "sms" }, "Text message (SMS)"));
    this.address = el("input", { id: "updates-address", name: "address", autocomplete: "email", inputmode: "email", maxlength: "320", required: true, "aria-describedby": "updates-hint" });
    this.channel.addEventListener("change", () => this.placeholder());
    this.error = el("div", { id: "updates-error", class: "error", role: "alert", hidden: true });
    this.status = el("p", { id: "updates-status", class: "sr-only", "aria-live": "polite" });
    this.list = el("ul", { id: "updates-list", class: "updates-list" });
    this.button = el("button", { id: "updates-submit", type: "submit" }, "Get updates");
    const form = el("form", { id: "updates-form", novalidate: true },
      el("div", { class: "row" },
        el("div", {}, el("label", { for: "updates-channel" }, "Send updates by"), this.channel),
        el("div", {}, el("label", { for: "updates-address", id: "updates-address-label" }, "E-mail address"), this.address),
        this.button),
      el("p", { class: "hint", id: "updates-hint" }, "We tell you when your order ships, is out for delivery, is delivered or runs late. Every message has a link to stop them."));
    form.addEventListener("submit", (event) => this.subscribe(event));
    fill(this.root,
      el("h2", { id: "updates-title" }, "Get updates"),
      form, this.error,
      el("h3", { id: "updates-to" }, "Updates go to"), this.list, this.status);
    this.relabel();
  }

  // the labels in the page's language (again after the reader switches it); what was typed stays
  relabel() {
    const texts = {
      "updates-title": t("get_updates", "Get updates"),
      "updates-submit": t("get_updates", "Get updates"),
      "updates-to": t("updates_go_to", "Updates go to"),
      "updates-hint": t("updates_hint", "We tell you when your order ships, is out for delivery, is delivered or runs late. Every message has a link to stop them."),
    };
    for (const [id, text] of Object.entries(texts)) this.root.querySelector(`#${id}`).textContent = text;
    this.root.querySelector('label[for="updates-channel"]').textContent = t("send_updates_by", "Send updates by");
    this.channel.options[0].textContent = t("channel_email", "E-mail");
    this.channel.options[1].textContent = t("channel_sms", "Text message (SMS)");
    this.placeholder();
    if (this.data) this.render(this.data);
    this.showError(this.errorText);
    this.showStatus(this.statusText);
  }

  placeholder() {
    const sms = this.channel.value === "sms";
    this.root.querySelector("#updates-address-label").textContent = sms ? t("mobile_number", "Mobile number") : t("email_address", "E-mail address");
    this.address.setAttribute("placeholder", sms ? "+1 555 123 4567" : "you@example.com");
    this.address.setAttribute("autocomplete", sms ? "tel" : "email");
    this.address.setAttribute("inputmode", sms ? "tel" : "email");
  }

  show(orderId) {
    if (orderId !== this.orderId) {
      this.orderId = orderId;
      this.address.value = "";
      this.showError(null);
      this.showStatus(null);
      this.data = null;
      fill(this.list);
    }
    this.root.hidden = false;
    return this.load();
  }

  hide() {
    this.orderId = null;
    this.root.hidden = true;
  }

  path() {
    return `/v1/orders/${encodeURIComponent(this.orderId)}/notifications`;
  }

  async call(options = {}) {
    const { token } = this.current();
    try {
      const { data } = await api(this.path(), { token, ...options });
      this.render(data);
      return data;
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) this.onAuthError(error);
      else throw error;
      return null;
    }
  }

  async load() {
    if (!this.orderId) return;
    try {
      await this.call();
    } catch (error) {
      const reason = error.message;
      this.showError(() => t("updates_load_failed", "Could not load your update settings: %(reason)s", { reason }));
    }
  }

  // text: a function giving the words in the page's language, or null for none
  showError(text) {
    this.errorText = text;
    const message = text ? text() : "";
    this.error.textContent = message;
    this.error.hidden = !message;
  }

  showStatus(text) {
    this.statusText = text;
    const message = text ? text() : "";
    if (this.status.textContent !== message) this.status.textContent = message;
  }

  async subscribe(event) {
    event.preventDefault();
    const address = this.address.value.trim();
    const channel = this.channel.value;
    if (!address) {
      this.showError(() => (channel === "sms" ? t("enter_mobile", "Please enter your mobile number.") : t("enter_email", "Please enter your e-mail address.")));
      this.address.focus();
      return;
    }
    this.button.disabled = true;
    this.showError(null);
    try {
      const data = await this.call({ method: "POST", body: { channel, address, subscribed: true } });
      if (data) {
        this.address.value = "";
        this.showStatus(() => (channel === "sms" ? t("updates_on_sms", "Text message updates are on.") : t("updates_on_email", "E-mail updates are on.")));
      }
    } catch (error) {
      const reason = error.message;
      this.showError(error instanceof ApiError && error.status === 400
        ? () => (channel === "sms" ? t("check_number", "Please check the number: %(reason)s", { reason }) : t("check_address", "Please check the address: %(reason)s", { reason }))
        : error instanceof ApiError && error.status === 429
          ? () => t("too_many_changes", "Too many changes just now. Please wait a minute and try again.")
          : () => `${t("went_wrong", "Sorry, something went wrong:")} ${reason}`);
      this.address.focus();
    } finally {
      this.button.disabled = false;
    }
  }

  async change(entry, subscribed) {
    this.showError(null);
    try {
      await this.call({ method: "POST", body: { ref: entry.ref, subscribed } });
      const { address } = entry;
      this.showStatus(() => (subscribed ? t("updates_to_on", "Updates to %(address)s are on.", { address }) : t("updates_to_off", "Updates to %(address)s are off.", { address })));
    } catch (error) {
      const reason = error.message;
      this.showError(() => t("change_failed", "Could not change that just now: %(reason)s", { reason }));
    }
  }

  render(data) {
    this.data = data;
    const recipients = data.recipients || [];
    fill(this.list, recipients.length
      ? recipients.map((entry) => el("li", { "data-ref": entry.ref, "data-channel": entry.channel, "data-subscribed": String(entry.subscribed) },
        el("span", { class: "updates-address" }, `${channelWord(entry.channel)}: ${entry.address}`),
        el("span", { class: `pill ${entry.subscribed ? "delivered" : ""}` }, entry.subscribed ? t("state_on", "on") : t("state_off", "off")),
        entry.source === "order" ? el("span", { class: "hint" }, ` ${t("from_order", "(from your order)")}`) : null,
        el("button", {
          type: "button",
          class: `secondary ${entry.subscribed ? "updates-stop" : "updates-resume"}`,
          onclick: () => this.change(entry, !entry.subscribed),
        },
        // the accessible name starts with the visible words in every language, then says where
        entry.subscribed ? t("stop_updates", "Stop updates") : t("resume", "Resume"),
        el("span", { class: "sr-only" }, ` — ${entry.address}`))))
      : el("li", { class: "hint" }, t("updates_nowhere", "Nowhere yet: add an e-mail address or mobile number above.")));
  }
}
