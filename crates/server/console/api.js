// Calls to noriai's JSON API. Every call that changes something carries
// the console header; the session is the HttpOnly cookie the server set.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body) {
  const init = { method, headers: { "x-noriai-console": "1" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "offline", "network");
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error ?? "unknown", data?.message ?? response.statusText);
  }
  return data;
}

// Server-sent events of one kind, reopened after a network gap; calls
// onFail(error) when the server refuses (e.g. the session ended).
export function follow(path, kind, onData, onState, onFail) {
  let source = null;
  let closed = false;
  const open = () => {
    if (closed) return;
    source = new EventSource(path);
    source.addEventListener(kind, (e) => {
      onState?.("live");
      onData(JSON.parse(e.data));
    });
    source.addEventListener("failed", (e) => {
      const f = JSON.parse(e.data);
      source.close();
      onFail?.(new ApiError(f.status, f.error, f.message));
      // The server or the database may be back shortly; a refusal will not.
      if (f.status >= 500) setTimeout(open, 5000);
    });
    source.onerror = async () => {
      onState?.("reconnecting");
      source.close();
      // A stream refused at the door (session ended) is not a network gap.
      try {
        const r = await fetch("/api/v1/session", { credentials: "same-origin" });
        if (r.status === 401) {
          onFail?.(new ApiError(401, "unauthenticated", "log in again"));
          return;
        }
        // Let in, yet the stream failed: ask it once to say why.
        if (r.ok) {
          const why = await fetch(path, { credentials: "same-origin" });
          if (why.status >= 400 && why.status < 500) {
            const body = await why.json().catch(() => ({}));
            onFail?.(new ApiError(why.status, body.error ?? "refused", body.message ?? why.statusText));
            return;
          }
          why.body?.cancel();
        }
      } catch (e) {
        /* offline: try again below */
      }
      setTimeout(open, 3000);
    };
  };
  open();
  return () => {
    closed = true;
    source?.close();
  };
}

// A random id for idempotency keys and driver events.
export function newId(prefix) {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return prefix + "-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Today in Asia/Tokyo as YYYY-MM-DD.
export function todayTokyo(offsetDays = 0) {
  const t = new Date(Date.now() + 9 * 3600 * 1000 + offsetDays * 86400 * 1000);
  return t.toISOString().slice(0, 10);
}

// The time in Asia/Tokyo as HH:MM, rounded up to the next quarter hour
// plus `minutes`.
export function nextQuarterTokyo(minutes = 0) {
  const t = new Date(Date.now() + 9 * 3600 * 1000 + minutes * 60000);
  let m = t.getUTCHours() * 60 + t.getUTCMinutes();
  m = Math.ceil(m / 15) * 15;
  if (m >= 24 * 60) m = 24 * 60 - 15;
  return String(Math.floor(m / 60)).padStart(2, "0") + ":" + String(m % 60).padStart(2, "0");
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
