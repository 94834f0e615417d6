// Every read and write of the app goes through the REST API of crmhost serve,
// with the session cookie (set by POST /api/v1/session, HttpOnly) and, on every
// request that changes something, the session's CSRF token.

let csrfToken = null;

export function setCsrfToken(token) {
  csrfToken = token || null;
}

// A failed request: `status` and the RFC 9457 problem's detail when the server sent one.
export class ApiError extends Error {
  constructor(status, problem, retryAfterSeconds = null) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.retryAfterSeconds = retryAfterSeconds;  // the Retry-After header (429), in seconds
  }
}

let onUnauthorized = () => {};
// What to do when a request finds the session gone (401): the app shows the sign-in page.
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export async function request(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const type = response.headers.get('Content-Type') || '';
  const payload = type.includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    if (response.status === 401 && !quiet401) onUnauthorized();
    const retryAfter = Number(response.headers.get('Retry-After'));
    throw new ApiError(response.status, payload, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null);
  }
  return payload;
}

export const get = (path, options) => request('GET', path, undefined, options);
export const post = (path, body) => request('POST', path, body ?? {});
export const put = (path, body) => request('PUT', path, body ?? {});
export const patch = (path, body) => request('PATCH', path, body ?? {});
export const del = (path) => request('DELETE', path);

// "/api/v1/customers?band=red&..." from a path and the non-empty members of `query`.
export function withQuery(path, query) {
  const parameters = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') parameters.set(name, String(value));
  }
  const text = parameters.toString();
  return text ? `${path}?${text}` : path;
}
