// Re-check with carrier, in an order's detail: per parcel, when it was last checked with its
// carrier and when it is next due, and a button that asks the poll role to check it now
// (POST /v1/agent/parcels/{n}/recheck). What the carrier says enters like a webhook, so new
// scans show through the console's live reload of the order; a check that found nothing new
// changes no order, so the line re-reads the parcel's poll state a few times after a request.
import { api, ApiError, el, fill, formatDateTime, words } from "/static/common.js";

const FOLLOW_UP_MS = [3000, 8000, 20000];

function result(last) {
  if (!last) return "";
  if (last === "new") return "brought new scans";
  if (last === "nothing_new") return "nothing new";
  return words(last);
}

function describe(poll) {
  const parts = [];
  parts.push(poll.last_polled_at
    ? `Last checked with carrier ${formatDateTime(poll.last_polled_at)}${poll.last_result ? ` (${result(poll.last_result)})` : ""}`
    : "Not checked with carrier yet");
  parts.push(poll.next_poll_at ? `next ${formatDateTime(poll.next_poll_at)}` : "no further checks planned");
  return parts.join(" · ");
}

async function read(number, token) {
  try {
    const { data } = await api(`/v1/agent/parcels/${encodeURIComponent(number)}/poll`, { token });
    return { poll: data };
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return { poll: null };
    return { error };
  }
}

function line(number, state, token, onRefused, message = "") {
  const row = el("li", { "data-poll": number });
  const render = (current, note) => {
    if (current.error) {
      fill(row, el("code", {}, number), " · ", el("span", { class: "muted" }, `Carrier checks unavailable: ${current.error.message}`));
      return;
    }
    if (!current.poll) {
      fill(row, el("code", {}, number), " · ", el("span", { class: "muted" }, "Not checked with its carrier (no polled carrier, final, or too old)."));
      return;
    }
    const button = el("button", {
      type: "button", class: "secondary", "data-action": "recheck",
      onclick: () => recheck(button),
    }, "Re-check with carrier");
    fill(row, el("code", {}, number), " · ", el("span", { "data-poll-state": "" }, describe(current.poll)), " ", button,
      note ? el("div", { class: "muted", role: "status" }, note) : null);
  };
  const recheck = async (button) => {
    button.disabled = true;
    button.textContent = "Asking…";
    try {
      const { data } = await api(`/v1/agent/parcels/${encodeURIComponent(number)}/recheck`, { method: "POST", token });
      render({ poll: data.poll }, "Re-check asked: the carrier is asked within the poll role's next round; new scans show here live.");
      for (const delay of FOLLOW_UP_MS) {
        setTimeout(async () => {
          if (!row.isConnected) return;
          const again = await read(number, token);
          if (!again.error) render(again, again.poll && again.poll.last_polled_at && again.poll.requested_at && again.poll.last_polled_at >= again.poll.requested_at ? "" : "Waiting for the carrier…");
        }, delay);
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        onRefused(error);
        return;
      }
      const why = error instanceof ApiError && error.status === 403
        ? "Your role may look but not ask for a re-check." : error.message;
      render(state, why);
    }
  };
  render(state, message);
  return row;
}

// Fill `box` with one line per tracking number (those the poll role does not poll say so).
export async function showCarrierChecks(box, numbers, token, onRefused) {
  if (!box) return;
  if (!numbers.length) {
    fill(box);
    return;
  }
  const states = await Promise.all(numbers.map((n) => read(n, token)));
  if (!box.isConnected) return;
  fill(box, el("ul", { class: "card", "aria-label": "Checks with the carriers" },
    numbers.map((n, i) => line(n, states[i], token, onRefused))));
}
