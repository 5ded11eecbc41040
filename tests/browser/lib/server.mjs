// A static file server on 127.0.0.1 for the browser tests: each mount maps a URL
// prefix to a directory. `http://127.0.0.1` is a secure context, so crypto.subtle
// is available to the pages it serves.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css',
  '.vector': 'application/octet-stream',
};

/**
 * @param {Record<string, string>} mounts URL prefix ("/pkg/") -> directory
 * @param {Record<string, string>} [pages] exact URL path -> HTML text
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export async function serveStatic(mounts, pages = {}) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const p = decodeURIComponent(url.pathname);
    if (p === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (pages[p] !== undefined) {
      res.writeHead(200, { 'content-type': TYPES['.html'], 'cache-control': 'no-store' });
      res.end(pages[p]);
      return;
    }
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (!p.startsWith(prefix)) continue;
      const rel = p.slice(prefix.length) || 'index.html';
      const file = path.resolve(dir, rel);
      if (!file.startsWith(path.resolve(dir))) break;
      fs.stat(file, (err, st) => {
        const target = !err && st.isDirectory() ? path.join(file, 'index.html') : file;
        fs.readFile(target, (err2, data) => {
          if (err2) {
            res.writeHead(404).end('not found');
            return;
          }
          res.writeHead(200, {
            'content-type': TYPES[path.extname(target)] ?? 'application/octet-stream',
            'cache-control': 'no-store',
          });
          res.end(data);
        });
      });
      return;
    }
    res.writeHead(404).end('not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
