// A shop's back end in front of Vitrine: one product page asks for recommendations and an offer
// over one WebSocket connection, and passes the shopper's actions back as events.
//
//   node examples/shop-backend.mjs ws://127.0.0.1:8080/ws 3000
//   curl 'localhost:3000/page?user=u1'
//   curl -X POST 'localhost:3000/bought?user=u1&item=i3&price=19.5'
import { createServer } from 'node:http';
import { CallError, VitrineClient } from 'vitrine/client';

const [url = 'ws://127.0.0.1:8080/ws', port = '3000'] = process.argv.slice(2);
const vitrine = await VitrineClient.connect(url, { timeoutMs: 200 });

async function page(user) {
  // Both at once on the one connection; a page still renders when the offer cannot be had.
  const [recommended, offer] = await Promise.all([
    vitrine.recommend({ user, k: 6, filters: { availableOnly: true } }),
    vitrine.promotion({ user }).catch((e) => (e instanceof CallError ? null : Promise.reject(e))),
  ]);
  return {
    user,
    products: recommended.items.map((i) => ({ id: i.id, why: i.explanation })),
    offer: offer?.promotions[0] ? { ...offer.promotions[0], decision: offer.decision } : null,
  };
}

const server = createServer(async (req, res) => {
  const q = new URL(req.url, 'http://shop').searchParams;
  const user = q.get('user') ?? 'anonymous';
  try {
    if (req.url.startsWith('/page')) return send(res, 200, await page(user));
    if (req.url.startsWith('/bought') && req.method === 'POST') {
      const price = Number(q.get('price'));
      return send(res, 200, await vitrine.event({ user, item: q.get('item'), type: 'purchase', price }));
    }
    send(res, 404, { error: 'GET /page?user= or POST /bought?user=&item=&price=' });
  } catch (e) {
    // Vitrine's coded errors name the field at fault; a shop would log them and fall back.
    send(res, e instanceof CallError && e.code === 'invalid_field' ? 400 : 503, { error: e.message, code: e.code });
  }
});
const send = (res, status, body) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
server.listen(Number(port), '127.0.0.1', () =>
  console.log(`shop back end on http://127.0.0.1:${server.address().port}, Vitrine at ${url}`),
);
process.on('SIGTERM', () => server.close(() => vitrine.close().then(() => process.exit(0))));
