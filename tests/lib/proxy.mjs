// An HTTP proxy on loopback that every engine sends its requests through
// (launch({ proxy: proxy.address })), so a test can see, hold, fail or answer any
// request — the page's, a worker's, a service worker's — the same way in Chromium,
// Firefox and WebKit. Classic WebDriver has no request interception; this replaces it.
//
//   const proxy = await startProxy();
//   const unroute = proxy.route((url, method) => url.searchParams.has('partNumber'),
//     async (req, ctl) => { ...; return ctl.continue(); });
//   // req: { method, url (URL), headers, body (Buffer) }
//   // ctl.continue()       send it on, answer with the real response
//   // ctl.fetch()          send it on, get { status, headers, body } back to inspect
//   // ctl.fulfill({ status, headers, body })   answer here (CORS headers added when missing)
//   // ctl.abort()          drop the connection mid-answer (the page sees a network error)
//   unroute(); proxy.unrouteAll(); proxy.requests (every request seen: { method, url });
//   await proxy.close();
// Requests no route matches are streamed through untouched. Only plain http (the
// tests' servers are all http://127.0.0.1).
import http from 'node:http';

export async function startProxy() {
  const routes = [];
  const requests = [];
  const sockets = new Set();

  const forward = (req, url, body, res) =>
    new Promise((resolve, reject) => {
      const up = http.request(url, { method: req.method, headers: req.headers, agent: false }, (upRes) => {
        upRes.on('error', () => {});
        if (res) {
          res.writeHead(upRes.statusCode, upRes.rawHeaders);
          upRes.pipe(res);
          upRes.on('end', resolve);
          upRes.on('error', reject);
        } else {
          const parts = [];
          upRes.on('data', (d) => parts.push(d));
          upRes.on('end', () => resolve({ status: upRes.statusCode, headers: upRes.headers, rawHeaders: upRes.rawHeaders, body: Buffer.concat(parts) }));
          upRes.on('error', reject);
        }
      });
      up.on('error', reject);
      // The store may answer before the body is all written (a cancelled upload's part)
      // and close: the rest of the write then fails on the socket itself.
      up.on('socket', (sock) => sock.on('error', () => {}));
      if (body === null) req.pipe(up);
      else up.end(body);
    });

  const server = http.createServer(async (req, res) => {
    let url;
    try {
      url = new URL(req.url);
    } catch {
      res.writeHead(400).end('absolute URLs only: this is a proxy');
      return;
    }
    requests.push({ method: req.method, url: url.href });
    // A browser closing a connection (a cancelled upload) is no test failure.
    req.on('error', () => {});
    res.on('error', () => {});
    const route = [...routes].reverse().find((r) => r.match(url, req.method));
    try {
      if (!route) {
        await forward(req, url, null, res);
        return;
      }
      const parts = [];
      for await (const c of req) parts.push(c);
      const body = Buffer.concat(parts);
      let answered = false;
      const once = () => {
        if (answered) throw new Error('this request was already answered');
        answered = true;
      };
      const ctl = {
        continue: async () => {
          once();
          await forward(req, url, body, res);
        },
        fetch: () => forward(req, url, body, null),
        fulfill: ({ status = 200, headers = {}, body: out = '' } = {}) => {
          once();
          const h = { 'access-control-allow-origin': req.headers.origin ?? '*', 'access-control-expose-headers': 'ETag', ...headers };
          res.writeHead(status, h);
          res.end(out);
        },
        abort: () => {
          // The connection drops in the middle of the answer: a reset before any answer
          // is retried by Firefox and WebKit on their own (idempotent PUT/GET), so the
          // page would never see it.
          once();
          res.writeHead(200, { 'access-control-allow-origin': req.headers.origin ?? '*', 'content-length': '1000' });
          res.write('x');
          setTimeout(() => req.socket.destroy(), 20);
        },
      };
      await route.handler({ method: req.method, url, headers: req.headers, body }, ctl);
      if (!answered) await ctl.continue();
    } catch (e) {
      if (!res.headersSent) res.writeHead(502).end(String(e.message));
      else res.destroy();
    }
  });
  server.on('connection', (s) => {
    s.on('error', () => {});
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connect', (req, socket) => socket.end('HTTP/1.1 501 Not Implemented\r\n\r\n'));
  // A browser that went away mid-request: Node's default answer (a 400) would be
  // written to a closed socket (EPIPE, an uncaught error in the test).
  server.on('clientError', (err, socket) => socket.destroy());
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const address = `127.0.0.1:${server.address().port}`;
  return {
    address,
    requests,
    route(match, handler) {
      const r = { match, handler };
      routes.push(r);
      return () => {
        const i = routes.indexOf(r);
        if (i >= 0) routes.splice(i, 1);
      };
    },
    unrouteAll() {
      routes.length = 0;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
