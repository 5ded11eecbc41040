// The two sign-in calls of the backend (docs/API.md) that come before a token; all
// else goes through the package's CipherDropClient. Failures are the package's ApiError.
import { ApiError } from 'cipherdrop';

async function request(method, path, body) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network', 'could not reach the server');
  }
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

/** `{ dev_login, oidc: { issuer, audience, client_id } | null }` */
export const authConfig = () => request('GET', '/auth/config');
/** `{ token, expires_in, user }` */
export const devLogin = (user) => request('POST', '/auth/dev-login', { user });
