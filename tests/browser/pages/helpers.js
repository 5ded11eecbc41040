// In-page helpers for the browser tests (served at /t/helpers.js).

/** Plaintext of every vector: byte i is i mod 251. */
export function pattern(len) {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = i % 251;
  return out;
}

export function hex(s) {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A vector file: `key: value` lines, a blank line, then the file bytes. */
export async function loadVector(name) {
  const bytes = new Uint8Array(await (await fetch(`/vectors/${name}.vector`)).arrayBuffer());
  let split = -1;
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i + 1] === 10) {
      split = i;
      break;
    }
  }
  const text = new TextDecoder().decode(bytes.subarray(0, split));
  const fields = text.split('\n').map((l) => {
    const at = l.indexOf(': ');
    return [l.slice(0, at), l.slice(at + 2)];
  });
  const get = (k) => fields.find(([f]) => f === k)?.[1];
  const context = {};
  for (const [k, v] of fields) {
    if (k === 'context') {
      const eq = v.indexOf('=');
      context[v.slice(0, eq)] = v.slice(eq + 1);
    }
  }
  return {
    name,
    expect: get('expect'),
    // raw-aes vectors name a master key; ok_passphrase a passphrase (FORMAT.md 2.4).
    masterKey: get('master_key') === undefined ? undefined : hex(get('master_key')),
    keyName: get('key_name'),
    passphrase: get('passphrase'),
    // x25519-hpke vectors name the recipient's private key (the "identity").
    identity: get('identity') === undefined ? undefined : hex(get('identity')),
    context,
    plaintextLength: Number(get('plaintext_len')),
    released: get('released') === undefined ? undefined : Number(get('released')),
    body: bytes.subarray(split + 2),
  };
}

/** A ReadableStream giving `bytes` in pieces of `piece` bytes. */
export function piecewise(bytes, piece) {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.length) {
        c.close();
        return;
      }
      c.enqueue(bytes.slice(off, off + piece));
      off += piece;
    },
  });
}

/** Reads a stream to its end or its error: { out, error }. */
export async function drainStream(readable) {
  const parts = [];
  let n = 0;
  let error;
  const reader = readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      n += value.length;
    }
  } catch (e) {
    error = e;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return { out, error };
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function random(len) {
  const out = new Uint8Array(len);
  for (let off = 0; off < len; off += 65536) crypto.getRandomValues(out.subarray(off, Math.min(len, off + 65536)));
  return out;
}
