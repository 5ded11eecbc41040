// Sending a sealed part to its presigned storage URL: shared by the client (on the
// page's thread, when workers cannot start) and the upload worker.

/** A presigned storage request (S3) failed: HTTP `status` (0 = no answer). */
export class StorageError extends Error {
  constructor(status) {
    super(
      status === 403
        ? 'the storage link expired or was refused'
        : status
          ? `the storage answered ${status}`
          : 'the storage could not be reached',
    );
    this.name = 'StorageError';
    this.status = status;
  }
}

/** The signal's reason, or a DOMException named AbortError. */
export const abortError = (signal) => signal?.reason ?? new DOMException('the operation was aborted', 'AbortError');
export const isAbort = (e) => e?.name === 'AbortError';

/** Resolves after `ms` milliseconds; rejects with the abort reason when `signal` aborts first. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Sends `body` (a Blob or a Uint8Array) with a presigned request; reports bytes sent
 * (taken back when the request fails); resolves with the ETag, rejects with a
 * StorageError or the signal's AbortError.
 */
export function send(request, body, signal, onSent) {
  const size = body.size ?? body.byteLength;
  if (typeof XMLHttpRequest === 'undefined') {
    // No upload progress without XHR: report on completion.
    return fetch(request.url, { method: request.method, headers: request.headers, body, signal }).then(
      (res) => {
        if (!res.ok) throw new StorageError(res.status);
        onSent(size);
        return res.headers.get('etag');
      },
      (e) => {
        throw isAbort(e) ? e : new StorageError(0);
      },
    );
  }
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const xhr = new XMLHttpRequest();
    xhr.open(request.method, request.url);
    for (const [k, v] of Object.entries(request.headers ?? {})) {
      const lk = k.toLowerCase();
      if (lk !== 'content-length' && lk !== 'host') xhr.setRequestHeader(k, v);
    }
    let last = 0;
    xhr.upload.onprogress = (e) => {
      onSent(e.loaded - last);
      last = e.loaded;
    };
    const onAbort = () => xhr.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    xhr.onload = () => {
      done();
      if (xhr.status >= 200 && xhr.status < 300) {
        onSent(size - last);
        resolve(xhr.getResponseHeader('etag'));
      } else {
        onSent(-last);
        reject(new StorageError(xhr.status));
      }
    };
    xhr.onerror = () => {
      done();
      onSent(-last);
      reject(new StorageError(0));
    };
    xhr.onabort = () => {
      done();
      onSent(-last);
      reject(abortError(signal));
    };
    xhr.send(body);
  });
}
