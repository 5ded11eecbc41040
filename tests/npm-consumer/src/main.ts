// Encrypts and decrypts a file through the package's public API, as an app would.
import {
  DecryptStream,
  collect,
  CipherDropClient,
  EncryptStream,
  Keyring,
  decryptRange,
  hasWebCrypto,
  isCipherDropError,
  readHeader,
  type HeaderInfo,
} from 'cipherdrop';

async function sha256(data: BufferSource): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

// Not `new Response(stream).arrayBuffer()`: that replaces a stream's error (and its
// `code`) with a generic TypeError.
const readAll = collect;

async function run(): Promise<Record<string, unknown>> {
  const size = 3 * 1024 * 1024 + 12345;
  const plain = new Uint8Array(size);
  for (let off = 0; off < size; off += 65536) crypto.getRandomValues(plain.subarray(off, Math.min(size, off + 65536)));
  const file = new File([plain], 'photo.jpg');
  const keyring = Keyring.fromKey('my key', Keyring.generateKey());
  const context = { owner: 'consumer', object: file.name };

  const encrypt = new EncryptStream({ keyring, context, plaintextLength: file.size });
  const ciphertext = await readAll(file.stream().pipeThrough(encrypt));
  const header: HeaderInfo = readHeader(ciphertext);

  const decrypt = new DecryptStream({ keyring, context });
  const back = await readAll(new Blob([ciphertext]).stream().pipeThrough(decrypt));
  const range = await decryptRange(new Blob([ciphertext]), { keyring, context, start: 1_000_000, end: 1_000_100 });

  const damaged = ciphertext.slice();
  damaged[damaged.length - 5] ^= 1;
  let damagedCode = 'none';
  try {
    await readAll(new Blob([damaged]).stream().pipeThrough(new DecryptStream({ keyring, context })));
  } catch (e) {
    damagedCode = isCipherDropError(e) ? e.code : String(e);
  }
  return {
    webcrypto: hasWebCrypto(),
    roundTrip: (await sha256(back)) === (await sha256(plain)),
    range: (await sha256(range)) === (await sha256(plain.subarray(1_000_000, 1_000_100))),
    ciphertextLength: ciphertext.length,
    expectedLength: encrypt.ciphertextLength,
    plaintextLength: header.plaintextLength,
    wrappedKey: header.wrappedKeys[0]?.providerId,
    damaged: damagedCode,
  };
}

const out = document.getElementById('result')!;
run().then(
  (r) => {
    out.textContent = JSON.stringify(r);
    out.dataset.done = 'ok';
  },
  (e: unknown) => {
    out.textContent = `error: ${e instanceof Error ? `${e.name} ${e.message}` : String(e)}`;
    out.dataset.done = 'error';
  },
);

// Type-level use of the client (not run here: the client test runs it against a server).
export function makeClient(token: string): CipherDropClient {
  return new CipherDropClient({ baseUrl: 'http://127.0.0.1:8080', token, retries: 2 });
}
