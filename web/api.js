// The query API (/api/v1/...): one fetch helper that adds the bearer token, turns API errors
// into readable messages, and lets a view cancel what it asked for when the user moves on.

const TOKEN_KEY = 'logwarden.token';

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, message, param) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.param = param || null;
  }
}

// GET/POST/DELETE @path with query @params (null, undefined and '' are left out) and a JSON
// @body. Resolves to the parsed JSON (null for 204); rejects with ApiError (status 0 when the
// daemon cannot be reached) or the AbortError of @signal.
export async function api(path, { params, method = 'GET', body, signal } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== '') url.searchParams.set(k, String(v));
  }
  const headers = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, {
      method, headers, signal, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `${method} ${url.pathname}: cannot reach logwarden (${e.message}). ` +
      'Is the daemon still running?');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    let msg = data && typeof data.error === 'string' ? data.error : text.trim() || res.statusText;
    if (data && data.param) msg += ` (parameter "${data.param}")`;
    if (res.status === 404 && path.startsWith('/api/v1/') && !(data && data.error)) {
      msg += ': this logwarden may be too old for the dashboard';
    }
    throw new ApiError(res.status, `${method} ${url.pathname} answered ${res.status}: ${msg}`,
      data && data.param);
  }
  if (res.status === 204 || !text) return null;
  if (data === null) {
    throw new ApiError(res.status, `${method} ${url.pathname}: the answer is not JSON`);
  }
  return data;
}
