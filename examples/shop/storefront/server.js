// storefront: the shop's API behind nginx. Node 20, standard library only.
//
//   GET  /products      the catalogue with prices from pricing; without prices (and the header
//                       x-shop-partial: prices) when pricing cannot answer in time
//   POST /orders        forwards to orders; 201 only when orders acknowledged the order
//   GET  /orders/:id    forwards to orders
//   GET  /health
//
// PRICING_URL and ORDERS_URL name the dependencies. SHOP_NAIVE=fallback fails /products when
// pricing fails; SHOP_NAIVE=timeouts waits on pricing for as long as it takes.
'use strict';
const http = require('node:http');

const PRICING_URL = process.env.PRICING_URL || 'http://pricing:8000';
const ORDERS_URL = process.env.ORDERS_URL || 'http://orders:8000';
const naive = new Set((process.env.SHOP_NAIVE || '').split(',').map((s) => s.trim()).filter((s) => s && s !== '0'));
const isNaive = (k) => naive.has('1') || naive.has('all') || naive.has(k);
const PRICING_TIMEOUT_MS = isNaive('timeouts') ? 0 : 400;
const ORDERS_TIMEOUT_MS = isNaive('timeouts') ? 0 : 2500;

const CATALOGUE = [
  { id: 'p1', name: 'Espresso beans, 1 kg' },
  { id: 'p2', name: 'Hand grinder' },
  { id: 'p3', name: 'Paper filters, 100' },
];

// One request to a dependency; resolves {status, headers, body} or rejects on error or timeout.
function call(base, method, path, { body, timeoutMs } = {}) {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(url, {
      method,
      agent: false,
      headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    if (timeoutMs) {
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    }
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

function send(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

async function products(res) {
  try {
    const r = await call(PRICING_URL, 'GET', `/prices?ids=${CATALOGUE.map((p) => p.id).join(',')}`,
      { timeoutMs: PRICING_TIMEOUT_MS });
    if (r.status !== 200) throw new Error(`pricing answered ${r.status}`);
    const { currency, prices } = JSON.parse(r.body);
    if (typeof prices !== 'object' || prices === null) throw new Error('pricing answered no prices');
    send(res, 200, { currency, products: CATALOGUE.map((p) => ({ ...p, price_cents: prices[p.id] ?? null })) });
  } catch (err) {
    console.error(`products: pricing unavailable: ${err.message}`);
    if (isNaive('fallback')) return send(res, 502, { error: 'pricing unavailable' });
    send(res, 200, { currency: null, products: CATALOGUE.map((p) => ({ ...p, price_cents: null })) },
      { 'x-shop-partial': 'prices' });
  }
}

async function forwardToOrders(res, method, path, body) {
  try {
    const r = await call(ORDERS_URL, method, path, { body, timeoutMs: ORDERS_TIMEOUT_MS });
    res.writeHead(r.status, { 'content-type': r.headers['content-type'] || 'application/json' });
    res.end(r.body);
  } catch (err) {
    console.error(`${method} ${path}: orders unavailable: ${err.message}`);
    send(res, 503, { error: 'orders unavailable, try again' });
  }
}

function readJSON(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try { resolve(JSON.parse(Buffer.concat(chunks).toString() || 'null')); } catch (e) { reject(e); }
    });
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  const { pathname } = new URL(req.url, 'http://storefront');
  try {
    if (req.method === 'GET' && pathname === '/health') return send(res, 200, { ok: true });
    if (req.method === 'GET' && pathname === '/products') return await products(res);
    if (req.method === 'POST' && pathname === '/orders') {
      let body;
      try { body = await readJSON(req); } catch { return send(res, 400, { error: 'body is not JSON' }); }
      return await forwardToOrders(res, 'POST', '/orders', body);
    }
    const m = pathname.match(/^\/orders\/([A-Za-z0-9-]+)$/);
    if (req.method === 'GET' && m) return await forwardToOrders(res, 'GET', `/orders/${m[1]}`);
    send(res, 404, { error: 'not found' });
  } catch (err) {
    console.error(err);
    if (!res.headersSent) send(res, 500, { error: 'internal error' });
  }
});
server.keepAliveTimeout = 5000;
const port = Number(process.env.PORT || 8000);
const host = process.env.HOST || '0.0.0.0';
server.listen(port, host, () => console.log(`storefront listening on ${host}:${port} (naive: ${[...naive].join(',') || 'none'})`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
