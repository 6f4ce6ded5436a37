// Talking to the Pantau API: every call carries the key; the live feed is read with fetch, since
// EventSource cannot send an Authorization header.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

/** A readable line out of FastAPI's error body: a string, or a list of validation errors. */
function describe(body, fallback) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((e) => `${(e.loc || []).join(".")}: ${e.msg}`).join("; ");
  return fallback;
}

export class Api {
  constructor(key) {
    this.key = key;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.key}`, ...extra };
  }

  // Paths are relative ("alerts", not "/alerts"): the page works behind a proxy's path prefix too.
  async request(method, path, body) {
    const init = { method, headers: this.headers(), cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    if (!response.ok) throw new ApiError(response.status, describe(parsed, response.statusText));
    return parsed;
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body) {
    return this.request("POST", path, body);
  }
}

/**
 * Read a text/event-stream body, calling onEvent({type, data, id}) for each complete event.
 * Follows the SSE format: lines of "field: value", an empty line ends an event, ":" lines are
 * comments (the server's pings), several data lines join with "\n".
 */
export async function readEventStream(body, onEvent, onBytes = () => {}) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { type: "", data: [], id: null };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onBytes();
    buffer += value;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop(); // an incomplete last line waits for the next chunk
    for (const line of lines) {
      if (line === "") {
        if (event.data.length) onEvent({ type: event.type || "message", data: event.data.join("\n"), id: event.id });
        event = { type: "", data: [], id: null };
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let text = colon < 0 ? "" : line.slice(colon + 1);
      if (text.startsWith(" ")) text = text.slice(1);
      if (field === "event") event.type = text;
      else if (field === "data") event.data.push(text);
      else if (field === "id") event.id = text;
    }
  }
}

/**
 * Follow GET alerts/stream for as long as `signal` is not aborted: reconnect with backoff and
 * Last-Event-ID, and give up (onRefused) only when the key is refused.
 */
export async function followFeed(api, { onEvent, onState, onRefused, signal }) {
  const QUIET_LIMIT_MS = 45000; // the server pings every 15 s: silence this long is a dead link
  let lastId = null;
  let delay = 1000;
  while (!signal.aborted) {
    const attempt = new AbortController();
    const stop = () => attempt.abort();
    signal.addEventListener("abort", stop, { once: true });
    let lastBytes = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - lastBytes > QUIET_LIMIT_MS) attempt.abort();
    }, 5000);
    try {
      onState("connecting");
      const headers = api.headers({ Accept: "text/event-stream" });
      if (lastId) headers["Last-Event-ID"] = lastId;
      const response = await fetch("alerts/stream", { headers, signal: attempt.signal, cache: "no-store" });
      if (response.status === 401) {
        onRefused();
        return;
      }
      if (!response.ok || !response.body) throw new Error(`feed answered ${response.status}`);
      onState("live");
      delay = 1000;
      await readEventStream(
        response.body,
        (event) => {
          if (event.id) lastId = event.id;
          onEvent(event);
        },
        () => {
          lastBytes = Date.now();
        },
      );
    } catch (error) {
      if (signal.aborted) return;
      console.warn("live feed interrupted:", error);
    } finally {
      clearInterval(watchdog);
      signal.removeEventListener("abort", stop);
    }
    if (signal.aborted) return;
    onState("down");
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 15000);
  }
}
