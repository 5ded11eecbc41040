// What a resumable upload keeps in IndexedDB, so it can go on after a reload, a
// crash or a lost network: the object id and upload token, the header already sent
// (public bytes: wrapped keys, never a plaintext key), the layout, the parts the
// storage confirmed (with their ETags), what identifies the file (name, size,
// last-modified, a digest of its first sealed chunk) and, where the browser has
// File System Access, a handle to the file itself.
//
// The keys come back from the backend when the upload resumes (or from the user's
// own key for user-held secrets); nothing here opens the file.

const DB_NAME = 'cipherdrop-uploads';
const STORE = 'uploads';

/** True where IndexedDB can be used (not in every private mode, not in Node). */
export const hasIndexedDb = () => typeof indexedDB !== 'undefined' && indexedDB !== null;

const done = (request) =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

/** The uploads of one backend and one user (records are scoped by both). */
export class ResumeStore {
  /** @param {string} scope backend URL and owner id: another user of this browser sees nothing of it. */
  constructor(scope) {
    this.scope = scope;
    this.db = null;
  }

  async open() {
    if (this.db) return this.db;
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore(STORE, { keyPath: 'key' });
      store.createIndex('scope', 'scope');
    };
    this.db = await done(request);
    // Another tab upgrading the database: let it, this one reopens on next use.
    this.db.onversionchange = () => {
      this.db?.close();
      this.db = null;
    };
    return this.db;
  }

  async run(mode, fn) {
    const db = await this.open();
    const tx = db.transaction(STORE, mode);
    const result = fn(tx.objectStore(STORE));
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new DOMException('the transaction was aborted', 'AbortError'));
    });
    return result instanceof IDBRequest ? result.result : result;
  }

  key(id) {
    return `${this.scope}|${id}`;
  }

  /** Saves (or replaces) the record of upload `record.id`. */
  put(record) {
    return this.run('readwrite', (s) => s.put({ ...record, key: this.key(record.id), scope: this.scope }));
  }

  /** The record of upload `id`, or undefined. */
  get(id) {
    return this.run('readonly', (s) => s.get(this.key(id)));
  }

  /** Every record of this scope. */
  all() {
    return this.run('readonly', (s) => s.index('scope').getAll(this.scope));
  }

  /** Records part `number` as stored with `etag`. */
  async partDone(id, number, etag) {
    await this.run('readwrite', (s) => {
      const r = s.get(this.key(id));
      r.onsuccess = () => {
        if (!r.result) return;
        r.result.done[number] = etag;
        s.put(r.result);
      };
    });
  }

  /** Forgets upload `id`. */
  delete(id) {
    return this.run('readwrite', (s) => s.delete(this.key(id)));
  }
}
