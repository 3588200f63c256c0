// Shared by the three pages: DOM building (text only, never HTML from data), the JSON API,
// a websocket that reconnects, and date formatting.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// replace a node's children; nested arrays are flattened and null / false left out
export function fill(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false && c !== ""));
  return node;
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.reason) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(path, { method = "GET", body, token, etag, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (etag) headers["If-None-Match"] = etag;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: "no-store",
  });
  if (response.status === 304) return { status: 304, data: null, etag };
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { reason: text };
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { status: response.status, data, etag: response.headers.get("ETag") };
}

export function wsUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

// A websocket that reconnects with backoff. `url()` is asked again on every attempt (so the
// newest version or token is used); `onState(true|false)` says whether it is live.
export class LiveSocket {
  constructor(url, onMessage, onState) {
    this.url = url;
    this.onMessage = onMessage;
    this.onState = onState;
    this.delay = 500;
    this.closed = false;
    this.ws = null;
    this.timer = null;
    this.connect();
  }

  connect() {
    if (this.closed) return;
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.delay = 500;
      this.onState(true);
    });
    ws.addEventListener("message", (event) => {
      try {
        this.onMessage(JSON.parse(event.data));
      } catch (error) {
        console.warn("unreadable frame", error);
      }
    });
    ws.addEventListener("close", (event) => {
      this.onState(false, event.code);
      // an auth answer (4401/4403/4404), or the token expired (4440): retrying with the same
      // token cannot help; the page fetches a new one and opens a new socket
      if (event.code === 4401 || event.code === 4403 || event.code === 4404 || event.code === 4440) {
        this.closed = true;
        return;
      }
      this.retry();
    });
  }

  retry() {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), this.delay);
    this.delay = Math.min(this.delay * 2, 15000);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
  }
}

const dateFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
});

// a bare date (2026-03-04) is a calendar day, not midnight UTC
export function parseWhen(value) {
  if (!value) return null;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const [y, m, d] = value.split("-").map(Number);
    return new Date(y, m - 1, d);
  }
  const when = new Date(value);
  return Number.isNaN(when.getTime()) ? null : when;
}

export function formatDate(value) {
  const when = parseWhen(value);
  return when ? dateFormat.format(when) : "";
}

export function formatDateTime(value) {
  const when = parseWhen(value);
  return when ? dateTimeFormat.format(when) : "";
}

export function timeEl(value, formatter = formatDateTime) {
  return el("time", { datetime: value || "" }, formatter(value) || "unknown time");
}

export function age(value, now = Date.now()) {
  const when = parseWhen(value);
  if (!when) return "";
  const minutes = Math.max(0, Math.round((now - when.getTime()) / 60000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.round(hours / 24)} d`;
}

export function words(value) {
  return value ? String(value).replaceAll("_", " ") : "";
}

export function place(location) {
  if (!location) return "";
  return [location.facility, location.city, location.region, location.country].filter(Boolean).join(", ");
}

// the agent token is shared by the console and the SLA page, for this browser tab only
export const agentToken = {
  get: () => sessionStorage.getItem("wismo.agent") || "",
  set: (token) => sessionStorage.setItem("wismo.agent", token),
  clear: () => sessionStorage.removeItem("wismo.agent"),
};

// a link that signs in (`wismo up` prints `/console#token=<jwt>`): the token goes to the tab's
// storage and leaves the address bar (and the history) at once
(() => {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token");
  if (!token) return;
  agentToken.set(token);
  fragment.delete("token");
  const rest = fragment.toString();
  history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
})();
