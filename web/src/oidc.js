// OIDC sign-in: authorization code + PKCE (S256), a public client in the browser.
// The issuer's endpoints come from its discovery document; the state (checked on
// return), the PKCE verifier and the nonce stay in sessionStorage for the round trip.
const PENDING_KEY = 'cipherdrop.oidc';

/** A sign-in failure this module words itself (shown as "Could not sign in: <message>."). */
export class SignInError extends Error {}

const b64url = (bytes) =>
  btoa(String.fromCharCode(...bytes)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
const randomString = () => b64url(crypto.getRandomValues(new Uint8Array(32)));

/** The PKCE S256 challenge of `verifier`: base64url(SHA-256(ASCII verifier)), RFC 7636. */
export async function pkceChallenge(verifier) {
  return b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
}

/** The claims of a JWT, unverified (the server verifies it); null when it is not one. */
export function jwtClaims(token) {
  const part = typeof token === 'string' ? token.split('.')[1] : undefined;
  if (!part || token.split('.').length !== 3) return null;
  try {
    const json = atob(part.replaceAll('-', '+').replaceAll('_', '/') + '='.repeat((4 - (part.length % 4)) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

async function getJson(url, init) {
  let res;
  try {
    res = await fetch(url, { cache: 'no-store', ...init });
  } catch {
    throw new SignInError(`could not reach the sign-in service at ${new URL(url).origin}`);
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const why = data?.error_description ?? data?.error ?? `it answered ${res.status}`;
    throw new SignInError(`the sign-in service refused: ${why}`);
  }
  return data;
}

/** The page's redirect URI: this page without its query. */
const redirectUri = () => `${location.origin}${location.pathname}`;

/**
 * Starts sign-in: fetches the issuer's discovery document and sends the browser to
 * its authorization endpoint. Never resolves when it succeeds (the page unloads).
 * @param {{ issuer: string, client_id: string, audience: string }} oidc from /auth/config
 */
export async function startSignIn(oidc) {
  const issuer = oidc.issuer.replace(/\/+$/, '');
  const discovery = await getJson(`${issuer}/.well-known/openid-configuration`);
  if (discovery?.issuer?.replace(/\/+$/, '') !== issuer) throw new SignInError('the sign-in service names another issuer');
  const pending = {
    state: randomString(),
    verifier: randomString(),
    nonce: randomString(),
    tokenEndpoint: discovery.token_endpoint,
    clientId: oidc.client_id,
    audience: oidc.audience,
    redirectUri: redirectUri(),
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: pending.clientId,
    redirect_uri: pending.redirectUri,
    scope: 'openid',
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await pkceChallenge(pending.verifier),
    code_challenge_method: 'S256',
  });
  location.assign(url.href);
  return new Promise(() => {});
}

/**
 * Finishes sign-in when the page is the redirect target (`?code=…&state=…` or
 * `?error=…`): checks the state, exchanges the code at the token endpoint and
 * returns the bearer token for the backend. Returns null when this load is not a
 * return from the issuer. The query is removed from the address bar either way.
 */
export async function finishSignIn() {
  const params = new URLSearchParams(location.search);
  if (!params.has('state') || !(params.has('code') || params.has('error'))) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null');
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, '', redirectUri());
  if (!pending || params.get('state') !== pending.state) {
    throw new SignInError('this sign-in did not start on this page (its state does not match): please sign in again');
  }
  if (params.has('error')) {
    throw new SignInError(`the sign-in service refused: ${params.get('error_description') ?? params.get('error')}`);
  }
  const tokens = await getJson(pending.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code'),
      redirect_uri: pending.redirectUri,
      client_id: pending.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const id = jwtClaims(tokens?.id_token);
  if (id && id.nonce !== pending.nonce) throw new SignInError('the sign-in answer was not for this page (its nonce does not match)');
  // The backend wants a JWT for its audience: the access token when it is one, else the ID token.
  const access = jwtClaims(tokens?.access_token);
  const forUs = (c) => c && [c.aud].flat().includes(pending.audience);
  if (forUs(access)) return tokens.access_token;
  if (forUs(id)) return tokens.id_token;
  throw new SignInError('the sign-in service gave no token for this server');
}
