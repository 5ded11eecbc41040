// Streaming encryption and decryption, random access, and one-shot helpers.
//
// The format (header, key derivation, nonces, the final-chunk rule) comes from the
// wasm module (crypto-core); the chunk AEAD is WebCrypto where available (aead.js).
import { readHeader, headerLength, Encryptor, Decryptor, Keyring } from './wasm.js';
import { createChunkAead } from './aead.js';
import { cipherDropError, errorFor } from './errors.js';
import { offThread, unwrapOffThread, wrapOffThread } from './passphrase.js';

/** Default plaintext bytes per chunk (256 KiB: the fastest WebCrypto size measured). */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;
const TAG = 16;
const PREFIX = 15;
const MAX_CHUNKS = 2 ** 32;

function asBytes(chunk) {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw cipherDropError('INVALID_ARGUMENT', 'stream chunks must be Uint8Array (or another ArrayBufferView / ArrayBuffer)');
}

/** Builds the wasm Encryptor described by encrypt options. */
export function createEncryptor(options) {
  const { dataKey, wrappedKeys, keyring, context = {}, chunkSize = DEFAULT_CHUNK_SIZE, plaintextLength } = options ?? {};
  if (keyring) return Encryptor.withKeyring(keyring, context, chunkSize, plaintextLength);
  if (!dataKey || !wrappedKeys) {
    throw cipherDropError('INVALID_ARGUMENT', 'give either a keyring, or a dataKey with its wrappedKeys');
  }
  return new Encryptor(dataKey, wrappedKeys, context, chunkSize, plaintextLength);
}

/**
 * As {@link createEncryptor}, but a passphrase keyring's Argon2id runs in a worker
 * (FORMAT.md 2.4) where one can start; pass the result as `encryptor` to EncryptStream.
 */
export async function createEncryptorAsync(options) {
  const { keyring, context = {}, chunkSize = DEFAULT_CHUNK_SIZE, plaintextLength } = options ?? {};
  if (keyring && offThread(keyring)) {
    const dataKey = Keyring.generateKey();
    try {
      const wrapped = await wrapOffThread(keyring, dataKey, context);
      if (wrapped) return new Encryptor(dataKey, [wrapped], context, chunkSize, plaintextLength);
    } finally {
      dataKey.fill(0);
    }
  }
  return createEncryptor(options);
}

const sameContext = (a, b) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
};

/** Runs `queue`'s oldest promises, enqueueing results in order, until at most `max` remain. */
async function drain(queue, controller, max) {
  while (queue.length > max) controller.enqueue(await queue.shift());
}

/**
 * Encrypts a stream of plaintext into a CipherDrop file: the header, then sealed
 * chunks, each `chunkSize + 16` bytes (the last one shorter).
 */
export class EncryptStream extends TransformStream {
  constructor(options = {}) {
    const enc = options.encryptor ?? createEncryptor(options);
    const cs = enc.chunkSize;
    const total = enc.plaintextLength;
    const count = enc.chunkCount;
    const depth = Math.max(1, options.inFlight ?? 4);
    const buf = new Uint8Array(cs);
    const queue = [];
    let aead;
    let fill = 0;
    let index = 0;
    let consumed = 0;
    const submit = (data, isFinal) => {
      if (index >= MAX_CHUNKS) throw cipherDropError('TOO_LARGE', 'too large: a CipherDrop file holds at most 2^32 chunks');
      const p = aead.seal(index++, isFinal, data);
      p.catch(() => {}); // awaited in order by drain(); this only silences the early rejection
      queue.push(p);
    };
    // A full chunk may be sealed as non-final once it is known not to be the last.
    const notLast = (moreFollows) => moreFollows || (count !== undefined && index < count - 1);
    super({
      async start(controller) {
        aead = await createChunkAead(enc.contentKey(), options.engine ?? 'auto');
        controller.enqueue(enc.header);
      },
      async transform(chunk, controller) {
        const bytes = asBytes(chunk);
        consumed += bytes.length;
        if (total !== undefined && consumed > total) {
          throw cipherDropError('LENGTH_MISMATCH', `the input was declared as ${total} bytes but more were given (did it change while being read?)`);
        }
        let off = 0;
        const n = bytes.length;
        while (off < n) {
          if (fill === cs) {
            submit(buf, false); // more bytes follow: not the last chunk
            fill = 0;
          }
          if (fill === 0 && n - off >= cs && notLast(n - off > cs)) {
            submit(bytes.subarray(off, off + cs), false); // no copy: WebCrypto/wasm copy it
            off += cs;
            continue;
          }
          const take = Math.min(cs - fill, n - off);
          buf.set(bytes.subarray(off, off + take), fill);
          fill += take;
          off += take;
        }
        if (fill === cs && notLast(false)) {
          submit(buf, false);
          fill = 0;
        }
        await drain(queue, controller, depth - 1);
      },
      async flush(controller) {
        if (total !== undefined && consumed !== total) {
          throw cipherDropError('LENGTH_MISMATCH', `the input was declared as ${total} bytes but ${consumed} bytes were given (did it change while being read?)`);
        }
        submit(buf.subarray(0, fill), true);
        await drain(queue, controller, 0);
        aead.free();
        buf.fill(0);
      },
    });
    /** The file's header (its first bytes). */
    this.header = enc.header;
    /** Header length in bytes. */
    this.headerLength = enc.headerLength;
    /** The total file length, when the plaintext length was given. */
    this.ciphertextLength = enc.ciphertextLength;
    /** The underlying wasm Encryptor. */
    this.encryptor = enc;
  }
}

async function openHeader(headerBytes, options, ciphertextLength) {
  const { dataKey, keyring, objectKeys, context = {} } = options;
  if (keyring && offThread(keyring)) {
    // Argon2id in a worker. The same checks in the same order as withKeyring: the
    // context first, then (one) unwrap, then commitment and tag; a passphrase that
    // unwraps a key failing the commitment is WRONG_KEY (FORMAT.md 2.4).
    const info = readHeader(headerBytes);
    if (!sameContext(info.context, context)) throw errorFor('CONTEXT_MISMATCH');
    const key = await unwrapOffThread(keyring, info.wrappedKeys, context);
    if (key) {
      try {
        return new Decryptor(headerBytes, key, context, ciphertextLength);
      } catch (e) {
        throw e?.code === 'COMMITMENT_MISMATCH' ? errorFor('WRONG_KEY') : e;
      } finally {
        key.fill(0);
      }
    }
  }
  if (keyring) return Decryptor.withKeyring(headerBytes, keyring, context, ciphertextLength);
  if (objectKeys) {
    const k = typeof objectKeys === 'function' ? await objectKeys(readHeader(headerBytes), headerBytes) : objectKeys;
    try {
      return Decryptor.withObjectKeys(headerBytes, k.contentKey, k.headerKey, context, ciphertextLength);
    } finally {
      if (typeof objectKeys === 'function') {
        k.contentKey?.fill?.(0);
        k.headerKey?.fill?.(0);
      }
    }
  }
  if (typeof dataKey === 'function') {
    const info = readHeader(headerBytes);
    const key = await dataKey(info);
    return new Decryptor(headerBytes, key, context, ciphertextLength);
  }
  if (!dataKey) throw cipherDropError('INVALID_ARGUMENT', 'give a dataKey (bytes or an async function of the header), objectKeys, or a keyring');
  return new Decryptor(headerBytes, dataKey, context, ciphertextLength);
}

/**
 * Decrypts a CipherDrop file stream into plaintext. A chunk's plaintext is emitted
 * only after its tag verifies; the stream errors (with a `code`) on any damage, and
 * on truncation it errors at the end instead of closing.
 */
export class DecryptStream extends TransformStream {
  constructor(options = {}) {
    const depth = Math.max(1, options.inFlight ?? 4);
    const queue = [];
    const pool = [];
    let resolveHeader;
    let rejectHeader;
    const headerPromise = new Promise((res, rej) => {
      resolveHeader = res;
      rejectHeader = rej;
    });
    headerPromise.catch(() => {});
    let head = new Uint8Array(0); // header bytes gathered so far
    let dec;
    let aead;
    let cs = 0;
    let count;
    let lastLen = 0;
    let cur;
    let fill = 0;
    let index = 0;

    const sealedLen = (i) => (count === undefined || i < count - 1 ? cs + TAG : lastLen);
    const takeBuffer = () => pool.pop() ?? new Uint8Array(cs + TAG);
    const submit = (data, isFinal, owned) => {
      const i = index++;
      const p = aead.open(i, isFinal, data).then(
        (plain) => {
          if (owned) pool.push(owned);
          return plain;
        },
        async (e) => {
          // Say why where the bytes allow it, as crypto-core does: a chunk that opens
          // with the other final flag means the file was cut or extended here.
          if (e?.code === 'DECRYPTION_FAILED') {
            const other = await aead.open(i, !isFinal, data).then(() => true, () => false);
            if (other) throw errorFor(isFinal ? 'TRUNCATED' : 'TRAILING_DATA');
          }
          throw e;
        },
      );
      p.catch(() => {});
      queue.push(p);
    };
    const fail = async (controller, code) => {
      await drain(queue, controller, 0); // release what verified before the problem
      throw errorFor(code);
    };

    const start = async (headerBytes) => {
      dec = await openHeader(headerBytes, options, options.ciphertextLength);
      aead = await createChunkAead(dec.contentKey(), options.engine ?? 'auto');
      cs = dec.chunkSize;
      count = dec.chunkCount;
      if (count !== undefined) lastLen = dec.plaintextLength - (count - 1) * cs + TAG;
      cur = takeBuffer();
      resolveHeader(dec.header);
    };

    const body = async (bytes, controller) => {
      let off = 0;
      const n = bytes.length;
      while (off < n) {
        if (count !== undefined && index >= count) return fail(controller, 'TRAILING_DATA');
        if (count === undefined && fill === cs + TAG) {
          submit(cur, false, cur); // a full chunk with bytes after it is not the last
          cur = takeBuffer();
          fill = 0;
        }
        const want = sealedLen(index);
        if (fill === 0 && n - off >= want && (count !== undefined || n - off > want)) {
          submit(bytes.subarray(off, off + want), count !== undefined && index === count - 1, null);
          off += want;
          continue;
        }
        const take = Math.min(want - fill, n - off);
        cur.set(bytes.subarray(off, off + take), fill);
        fill += take;
        off += take;
        if (count !== undefined && fill === want) {
          submit(cur.subarray(0, want), index === count - 1, cur);
          cur = takeBuffer();
          fill = 0;
        }
      }
      return drain(queue, controller, depth - 1);
    };

    super({
      async transform(chunk, controller) {
        let bytes = asBytes(chunk);
        try {
          if (!dec) {
            let need = head.length < PREFIX ? PREFIX : headerLength(head);
            while (!dec && bytes.length > 0) {
              const take = Math.min(need - head.length, bytes.length);
              const joined = new Uint8Array(head.length + take);
              joined.set(head);
              joined.set(bytes.subarray(0, take), head.length);
              head = joined;
              bytes = bytes.subarray(take);
              if (head.length === need) {
                if (need === PREFIX) need = headerLength(head);
                if (head.length === need) await start(head);
              }
            }
            if (!dec) return undefined;
          }
        } catch (e) {
          rejectHeader(e);
          throw e;
        }
        return body(bytes, controller);
      },
      async flush(controller) {
        if (!dec) {
          // Say what is wrong with the few bytes there are (bad magic, or too short).
          const e = (() => {
            try {
              headerLength(head);
            } catch (err) {
              return err;
            }
            return errorFor('TRUNCATED');
          })();
          rejectHeader(e);
          throw e;
        }
        if (count !== undefined) {
          if (index < count) return fail(controller, 'TRUNCATED');
        } else {
          // Length not recorded: what is left is the final chunk (at least a tag; an
          // empty final chunk exists only in an empty file).
          if (fill < TAG || (fill === TAG && index > 0)) return fail(controller, 'TRUNCATED');
          submit(cur.subarray(0, fill), true, null);
          fill = 0;
        }
        await drain(queue, controller, 0);
        aead.free();
        return undefined;
      },
    });
    /** Resolves with the verified header once it has been read and checked. */
    this.header = headerPromise;
  }
}

/** Reads a whole stream into one Uint8Array. */
export async function collect(readable) {
  const parts = [];
  let n = 0;
  // A reader loop, not `for await`: WebKit (Safari) has no async iteration of streams.
  const reader = readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      n += value.length;
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of parts) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

function sourceStream(data) {
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data.stream();
  const bytes = asBytes(data);
  return new ReadableStream({
    start(c) {
      if (bytes.length) c.enqueue(bytes);
      c.close();
    },
  });
}

function sizeOf(data) {
  return typeof Blob !== 'undefined' && data instanceof Blob ? data.size : asBytes(data).length;
}

/** Encrypts a whole `Uint8Array` or `Blob` (streamed) into a `Uint8Array`. */
export async function encrypt(data, options) {
  const opts = { plaintextLength: sizeOf(data), ...options };
  if (!opts.encryptor && opts.keyring) opts.encryptor = await createEncryptorAsync(opts);
  const s = new EncryptStream(opts);
  return collect(sourceStream(data).pipeThrough(s));
}

/** Decrypts a whole `Uint8Array` or `Blob` (streamed) into a `Uint8Array`. */
export async function decrypt(data, options) {
  return collect(sourceStream(data).pipeThrough(new DecryptStream(options)));
}

function rangeReader(source) {
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return {
      size: source.size,
      read: async (start, end) => new Uint8Array(await source.slice(start, end).arrayBuffer()),
    };
  }
  if (source instanceof Uint8Array) {
    return { size: source.length, read: async (start, end) => source.subarray(start, end) };
  }
  if (source && typeof source.read === 'function') return source;
  throw cipherDropError('INVALID_ARGUMENT', 'the source must be a Blob, a Uint8Array or { size?, read(start, end) }');
}

/**
 * Random access: decrypts plaintext bytes `[start, end)` by reading only the header
 * and the chunks that hold them, each authenticated before any byte is returned.
 */
export async function decryptRange(source, options) {
  const reader = rangeReader(source);
  const { start, end } = options;
  const prefix = await reader.read(0, PREFIX);
  const hl = headerLength(prefix);
  const headerBytes = await reader.read(0, hl);
  const dec = await openHeader(headerBytes, options, readHeader(headerBytes).plaintextLength === undefined ? reader.size : undefined);
  if (end === start) return new Uint8Array(0);
  const r = dec.rangeFor(start, end);
  const bytes = await reader.read(r.start, r.end);
  if (bytes.length !== r.end - r.start) throw errorFor('TRUNCATED');
  const aead = await createChunkAead(dec.contentKey(), options.engine ?? 'auto');
  try {
    const cs = dec.chunkSize;
    const pieces = [];
    let off = 0;
    for (let i = r.firstChunk; i < r.endChunk; i++) {
      const c = dec.chunkRange(i);
      const len = c.end - c.start;
      pieces.push(aead.open(i, dec.isFinal(i), bytes.subarray(off, off + len)));
      off += len;
    }
    const plain = await Promise.all(pieces);
    const out = new Uint8Array(end - start);
    let pos = r.firstChunk * cs; // plaintext offset of the first chunk
    for (const p of plain) {
      const from = Math.max(start, pos);
      const to = Math.min(end, pos + p.length);
      if (to > from) out.set(p.subarray(from - pos, to - pos), from - start);
      pos += p.length;
    }
    return out;
  } finally {
    aead.free();
    dec.free();
  }
}

export { Keyring };
