// Upload pipeline benchmark page, served by `cipherdrop serve --web-dir` (its own
// strict CSP applies): the same File uploaded (a) through the package's
// CipherDropClient (slices sealed in Web Workers with WebCrypto, parts in parallel)
// and (b) as a plain presigned multipart upload with no encryption, through the same
// API calls, part plan, concurrency and XHR transport. Driven by upload.mjs.
import { CipherDropClient } from '/pkg/index.js';

const api = async (base, token, method, path, body) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    cache: 'no-store',
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json();
};

/** Every part's number and length, from the compact plan of a start answer (docs/API.md "Uploads"). */
const planOf = (start) => {
  const { chunk_size: C, header_length: H, plaintext_length: L } = start;
  const { part_count: count, chunks_per_part: k } = start.upload;
  const N = Math.max(1, Math.ceil(L / C));
  return Array.from({ length: count }, (_, i) => {
    const first = i * k;
    const end = Math.min((i + 1) * k, N);
    const offset = i === 0 ? 0 : H + first * (C + 16);
    return { part_number: i + 1, length: H + Math.min(end * C, L) + 16 * end - offset };
  });
};

/** PUT `body` to a presigned request with XHR (as the client does); resolves with the ETag. */
function put(request, body) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(request.method, request.url);
    for (const [k, v] of Object.entries(request.headers ?? {})) {
      const lk = k.toLowerCase();
      if (lk !== 'content-length' && lk !== 'host') xhr.setRequestHeader(k, v);
    }
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve(xhr.getResponseHeader('etag')) : reject(new Error(`PUT ${xhr.status}`)));
    xhr.onerror = () => reject(new Error('PUT failed'));
    xhr.send(body);
  });
}

/**
 * The plain upload: the server's plan for this file (part sizes = the ciphertext's,
 * which the presigned URLs fix), filled with the file's own bytes and, at the very
 * end, zeros for the header and tags the ciphertext would add (0.006% at 256 KiB
 * chunks). No bytes are read into JavaScript: each part body is a slice of the File.
 */
async function plainUpload(base, token, file, concurrency, how = 'file') {
  const start = await api(base, token, 'POST', '/api/uploads', { size: file.size });
  const parts = start.upload.kind === 'single' ? [{ part_number: 1, length: start.ciphertext_length, request: start.upload.request }] : planOf(start);
  if (start.upload.kind !== 'single') for (const p of start.upload.parts) parts[p.part_number - 1].request = p.request;
  const single = start.upload.kind === 'single';
  const requests = new Map(parts.filter((p) => p.request).map((p) => [p.part_number, p.request]));
  const offsets = [];
  let at = 0;
  for (const p of parts) {
    offsets.push(at);
    at += p.length;
  }
  const etags = new Array(parts.length);
  let next = 0;
  const lane = async () => {
    while (next < parts.length) {
      const i = next++;
      const p = parts[i];
      if (!single && !requests.has(p.part_number)) {
        const batch = [];
        for (const q of parts) if (batch.length < 100 && q.part_number >= p.part_number && !requests.has(q.part_number)) batch.push(q.part_number);
        const res = await api(base, token, 'POST', `/api/uploads/${start.object_id}/parts`, { upload_token: start.upload_token, part_numbers: batch });
        for (const r of res.parts) requests.set(r.part_number, r.request);
      }
      const from = offsets[i];
      const to = from + p.length;
      let body = to <= file.size ? file.slice(from, to) : new Blob([file.slice(from, file.size), new Uint8Array(to - Math.max(from, file.size))]);
      // Diagnostics: the bytes read into JavaScript first (as the encrypted path must),
      // then sent as a Uint8Array, or wrapped in a new Blob as CipherDropClient does.
      if (how !== 'file') body = new Uint8Array(await body.arrayBuffer());
      if (how === 'blob') body = new Blob([body]);
      etags[i] = await put(requests.get(p.part_number), body);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, parts.length) }, lane));
  const done = await api(base, token, 'POST', `/api/uploads/${start.object_id}/complete`, {
    upload_token: start.upload_token,
    parts: single ? [] : etags.map((etag, i) => ({ part_number: i + 1, etag })),
  });
  return { id: done.object_id, size: done.size, parts: parts.length, partBytes: parts[0].length };
}

/** One timed upload of each kind per run, alternating; objects deleted between runs. */
globalThis.runUploadBench = async ({ base, token, runs, concurrency, diagnose }) => {
  const file = document.getElementById('file').files[0];
  const client = new CipherDropClient({ baseUrl: base, token });
  // Warm-up: the first named upload creates the user's name key (not part of a file's cost).
  const warm = await client.upload(new Blob([new Uint8Array(1024)]), { name: 'warm-up' });
  await client.delete(warm.id);
  const out = { plain: [], encrypted: [] };
  for (let r = 0; r < runs; r++) {
    for (const kind of r % 2 === 0 ? ['plain', 'encrypted'] : ['encrypted', 'plain']) {
      const c0 = await globalThis.benchCpu();
      const t = performance.now();
      let info;
      if (kind === 'plain') info = await plainUpload(base, token, file, concurrency);
      else {
        const o = await client.upload(file, { concurrency });
        info = { id: o.id, size: o.size };
      }
      const ms = performance.now() - t;
      const c1 = await globalThis.benchCpu();
      const cpu = { chromium: c1.chromium - c0.chromium, server: c1.server - c0.server };
      out[kind].push({ ms, cpu, ...info });
      await client.delete(info.id);
    }
  }
  if (diagnose) {
    // Where the encrypted path's extra time goes, without encryption: plain parts read
    // into memory and sent as a Blob made from those bytes (as the client sends its
    // sealed parts), and with --diagnose=bytes also as a Uint8Array XHR body (very
    // slow in Chromium: 113 s for 512 MiB, measured 2026-11-28).
    out.plainViaBlob = [];
    if (diagnose === 'bytes') out.plainViaBytes = [];
    for (const [kind, how] of [['plainViaBytes', 'bytes'], ['plainViaBlob', 'blob']]) {
      if (!out[kind]) continue;
      const c0 = await globalThis.benchCpu();
      const t = performance.now();
      const info = await plainUpload(base, token, file, concurrency, how);
      const ms = performance.now() - t;
      const c1 = await globalThis.benchCpu();
      out[kind].push({ ms, cpu: { chromium: c1.chromium - c0.chromium, server: c1.server - c0.server }, ...info });
      await client.delete(info.id);
    }
  }
  return out;
};
