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

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)natter_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** The newest request to each path (by a number counting all requests), while it runs. */
const newest = new Map();
let requests = 0;

export async function api(method, path, body, raw = false) {
  const mine = ++requests;
  newest.set(path, mine);
  try {
    return await request(method, path, body, raw, mine);
  } finally {
    if (newest.get(path) === mine) newest.delete(path);
  }
}

async function request(method, path, body, raw, mine) {
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
  for (let tries = 1; ; tries++) {
    let res;
    try {
      res = await fetch(`/api/v1${path}`, { method, headers, body: payload, credentials: "same-origin" });
    } catch {
      throw new ApiError(0, { error: { code: "network", message: "The server cannot be reached." } });
    }
    const text = await res.text();
    const data = text ? JSON.parse(text) : null;
    if (res.ok) return data;
    // `busy`: the server refused the write before doing it, so sending it again is safe,
    // unless a newer request to the same path (an edit after this one, a reaction taken back)
    // was made meanwhile: sent late, this one would undo it.
    if (data?.error?.code === "busy" && tries < BUSY_TRIES) {
      const wait = Number(res.headers.get("Retry-After")) || 1;
      await new Promise((done) => setTimeout(done, wait * 1000 * (1 + Math.random())));
      if (newest.get(path) === mine) continue;
    }
    throw new ApiError(res.status, data);
  }
}

/** Times a request refused with `busy` is sent before the error shows. */
const BUSY_TRIES = 3;

/**
 * Uploads a file as it is (the body is the bytes), reporting progress (0-1); `sealed` for a
 * file already encrypted for a sealed room. Returns
 * `{promise, abort}`; the promise resolves with the server's `upload` and rejects with an
 * ApiError (code "cancelled" after `abort`). XMLHttpRequest, because fetch reports no upload
 * progress.
 */
export function uploadFile(file, onProgress, { sealed = false } = {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    // A sealed file (encrypted here for a sealed room) goes nameless.
    const query = sealed ? "filename=sealed&sealed=true" : `filename=${encodeURIComponent(file.name || "file")}`;
    xhr.open("POST", `/api/v1/uploads?${query}`);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data.upload);
      else reject(new ApiError(xhr.status, data));
    };
    xhr.onerror = () => reject(new ApiError(0, { error: { code: "network", message: "The server cannot be reached." } }));
    xhr.onabort = () => reject(new ApiError(0, { error: { code: "cancelled", message: "Cancelled." } }));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}

/** The bytes at one of our addresses (a sealed file, to open here). */
export async function fetchBytes(url) {
  const res = await fetch(url, { credentials: "same-origin" });
  if (!res.ok) throw new ApiError(res.status, null);
  return res.arrayBuffer();
}
