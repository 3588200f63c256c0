// The status page's "Get updates" piece: subscribe an e-mail address or phone number to this
// order's updates, see where updates go (addresses shown masked), stop or resume each one.
// It talks to /v1/orders/{order_id}/notifications with the page's capability token.
import { api, ApiError, el, fill } from "/static/common.js";
import { t } from "/static/track/labels.js";

const CHANNEL_WORDS = { email: "E-mail", sms: "Text message" };

export class OrderUpdates {
  // root: the section to fill; current(): {orderId, token} of the order on the page;
  // onAuthError(error): the token ran out or is for another order
  constructor(root, current, onAuthError) {
    this.root = root;
    this.current = current;
    this.onAuthError = onAuthError;
    this.orderId = null;
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
      this.showError("");
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
      this.showError(`Could not load your update settings: ${error.message}`);
    }
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = !message;
  }

  async subscribe(event) {
    event.preventDefault();
    const address = this.address.value.trim();
    const channel = this.channel.value;
    if (!address) {
      this.showError(channel === "sms" ? "Please enter your mobile number." : "Please enter your e-mail address.");
      this.address.focus();
      return;
    }
    this.button.disabled = true;
    this.showError("");
    try {
      const data = await this.call({ method: "POST", body: { channel, address, subscribed: true } });
      if (data) {
        this.address.value = "";
        this.status.textContent = `${CHANNEL_WORDS[channel]} updates are on.`;
      }
    } catch (error) {
      this.showError(error instanceof ApiError && error.status === 400
        ? `Please check the ${channel === "sms" ? "number" : "address"}: ${error.message}`
        : error instanceof ApiError && error.status === 429
          ? "Too many changes just now. Please wait a minute and try again."
          : `Sorry, something went wrong: ${error.message}`);
      this.address.focus();
    } finally {
      this.button.disabled = false;
    }
  }

  async change(entry, subscribed) {
    this.showError("");
    try {
      await this.call({ method: "POST", body: { ref: entry.ref, subscribed } });
      this.status.textContent = `${CHANNEL_WORDS[entry.channel] || entry.channel} updates to ${entry.address} are ${subscribed ? "on" : "off"}.`;
    } catch (error) {
      this.showError(`Could not change that just now: ${error.message}`);
    }
  }

  render(data) {
    const recipients = data.recipients || [];
    fill(this.list, recipients.length
      ? recipients.map((entry) => el("li", { "data-ref": entry.ref, "data-channel": entry.channel, "data-subscribed": String(entry.subscribed) },
        el("span", { class: "updates-address" }, `${CHANNEL_WORDS[entry.channel] || entry.channel}: ${entry.address}`),
        el("span", { class: `pill ${entry.subscribed ? "delivered" : ""}` }, entry.subscribed ? "on" : "off"),
        entry.source === "order" ? el("span", { class: "hint" }, " (from your order)") : null,
        el("button", {
          type: "button",
          class: `secondary ${entry.subscribed ? "updates-stop" : "updates-resume"}`,
          "aria-label": `${entry.subscribed ? "Stop" : "Resume"} updates to ${entry.address}`,
          onclick: () => this.change(entry, !entry.subscribed),
        }, entry.subscribed ? "Stop updates" : "Resume")))
      : el("li", { class: "hint" }, "Nowhere yet: add an e-mail address or mobile number above."));
  }
}
