// The JSON API: every call sends the CSRF token our session cookie needs, and every failure
// becomes an ApiError carrying the server's stable code, message and per-field reasons.

export class ApiError extends Error {
  constructor(status, body) {
    const error = body?.error || {};
    super(error.message || `request failed (${status})`);
    this.status = status;
    this.code = error.code || "network";
    this.fields = error.fields || {};
  }
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)natter_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function api(method, path, body, raw = false) {
  const headers = { "X-CSRF-Token": csrfToken() };
  let payload;
  if (raw) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (!navigator.onLine) {
    // The browser knows it is offline: do not even try (the socket resyncs when it is back).
    throw new ApiError(0, { error: { code: "network", message: "You are offline." } });
  }
  let res;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, body: payload, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, { error: { code: "network", message: "The server cannot be reached." } });
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}
