// The backend's HTTP contract (docs/API.md): sign-in, uploads, objects.
// Every failure becomes an ApiError with the server's stable `code`.

/** An error answer of the backend (or a network failure: status 0, code "network"). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

async function request(method, path, { token, body, signal } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
    });
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'could not reach the server');
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    // not JSON: handled below
  }
  if (!res.ok) {
    const err = data?.error;
    throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? `the server answered ${res.status}`);
  }
  return data;
}

export const authConfig = () => request('GET', '/auth/config');
export const devLogin = (user) => request('POST', '/auth/dev-login', { body: { user } });

/** The API for one signed-in user. */
export class Api {
  constructor(token) {
    this.token = token;
  }
  #r(method, path, body, signal) {
    return request(method, path, { token: this.token, body, signal });
  }
  me() {
    return this.#r('GET', '/api/me');
  }
  startUpload(body, signal) {
    return this.#r('POST', '/api/uploads', body, signal);
  }
  signParts(id, uploadToken, partNumbers, signal) {
    return this.#r('POST', `/api/uploads/${id}/parts`, { upload_token: uploadToken, part_numbers: partNumbers }, signal);
  }
  complete(id, uploadToken, parts, signal) {
    return this.#r('POST', `/api/uploads/${id}/complete`, { upload_token: uploadToken, parts }, signal);
  }
  abort(id, uploadToken) {
    return this.#r('POST', `/api/uploads/${id}/abort`, { upload_token: uploadToken });
  }
  /** Every object of the user (all pages). */
  async listAll() {
    const all = [];
    let cursor = null;
    for (let page = 0; page < 1000; page++) {
      const q = new URLSearchParams({ limit: '1000' });
      if (cursor) q.set('cursor', cursor);
      const res = await this.#r('GET', `/api/objects?${q}`);
      all.push(...res.objects);
      cursor = res.next_cursor;
      if (!cursor) break;
    }
    return all;
  }
  downloadRequest(id, signal) {
    return this.#r('GET', `/api/objects/${id}/download`, undefined, signal);
  }
  dataKey(id, wrappedKeys, signal) {
    return this.#r('POST', `/api/objects/${id}/data-key`, { wrapped_keys: wrappedKeys }, signal);
  }
  remove(id) {
    return this.#r('DELETE', `/api/objects/${id}`);
  }
}
