// Looks at a moto bucket through the S3 API: list, read and overwrite objects,
// keeping their metadata. moto does not check signatures, but wants an
// Authorization header naming an access key.
const AUTH = {
  authorization:
    'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00',
};

async function s3fetch(url, init = {}) {
  const res = await fetch(url, { ...init, headers: { ...AUTH, ...(init.headers ?? {}) } });
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status}`);
  return res;
}

export class S3Inspector {
  constructor(endpoint, bucket) {
    if (!endpoint || !bucket) throw new Error('set CIPHERDROP_DATA_DIR, or CIPHERDROP_S3_ENDPOINT and CIPHERDROP_BUCKET');
    this.base = `${endpoint.replace(/\/$/, '')}/${bucket}`;
  }
  async keys() {
    const keys = [];
    let token = null;
    for (let page = 0; page < 100; page++) {
      const q = new URLSearchParams({ 'list-type': '2' });
      if (token) q.set('continuation-token', token);
      const xml = await (await s3fetch(`${this.base}?${q}`)).text();
      for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(m[1]);
      token = /<IsTruncated>true<\/IsTruncated>/.test(xml) ? xml.match(/<NextContinuationToken>([^<]*)</)?.[1] : null;
      if (!token) break;
    }
    return keys;
  }
  object(key) {
    const url = `${this.base}/${key}`;
    return {
      key,
      read: async () => {
        const res = await s3fetch(url);
        // The metadata (the encrypted name) is stored too: check it with the body.
        const meta = [...res.headers].filter(([k]) => k.startsWith('x-amz-meta-')).map(([k, v]) => `${k}:${v}\n`).join('');
        return Buffer.concat([Buffer.from(await res.arrayBuffer()), Buffer.from(meta)]);
      },
      readBody: async () => Buffer.from(await (await s3fetch(url)).arrayBuffer()),
      write: async (body) => {
        const head = await s3fetch(url, { method: 'HEAD' });
        const headers = { 'content-type': 'application/octet-stream' };
        for (const [k, v] of head.headers) if (k.startsWith('x-amz-meta-')) headers[k] = v;
        await s3fetch(url, { method: 'PUT', body, headers });
      },
    };
  }
  async objects() {
    return (await this.keys()).map((k) => this.object(k));
  }
  async find(id) {
    // uploads/<owner>/<id> is the server's record of a finished upload, not the object.
    const key = (await this.keys()).find((k) => k.endsWith(`/${id}`) && !k.startsWith('uploads/'));
    if (!key) throw new Error(`no stored object ${id}`);
    const o = this.object(key);
    return { read: o.readBody, write: o.write };
  }
}
