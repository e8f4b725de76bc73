/**
 * The yardstick server: what a team would write without Vitrine's architecture. One Node process,
 * the `ws` library, JSON frames, and the same model work (the very same Handlers) on the main thread.
 * Usage: tsx native-bench/baseline-server.ts <bundle version dir> <port>
 */
import { WebSocketServer } from 'ws';
import { readBundle, resolveBundleVersion } from '../src/bundle/read.js';
import { instantiate } from '../src/rank/model.js';
import { Handlers } from '../src/serve/handlers.js';
import { DEFAULT_LIMITS, errorBody, parseRequest } from '../src/serve/protocol.js';

const [dir, portArg] = process.argv.slice(2);
const data = readBundle(resolveBundleVersion(dir));
const handlers = new Handlers(await instantiate(data));
const now = data.manifest.data.referenceTime;
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(portArg ?? 0), perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (buf: Buffer) => {
    let id: unknown = null;
    void (async () => {
      try {
        const raw = JSON.parse(buf.toString('utf8')) as { id?: unknown };
        // Timed as Vitrine times itself: from the decoded frame to the result, so the load
        // generator can report both servers' own latency beside what the client saw.
        const t0 = performance.now();
        id = raw.id ?? null;
        const req = parseRequest(raw, DEFAULT_LIMITS);
        if (req.call.call === 'event') throw new Error('events are not part of the baseline');
        const result = await handlers.run({ call: req.call, now });
        ws.send(JSON.stringify({ id, result, bundle: handlers.version, serverMs: Math.round((performance.now() - t0) * 1000) / 1000 }));
      } catch (e) {
        ws.send(JSON.stringify({ id, error: errorBody(e) }));
      }
    })();
  });
});
wss.on('listening', () => {
  const address = wss.address();
  console.log(`baseline listening on ${typeof address === 'object' && address ? address.port : portArg}`);
});
