/**
 * The yardstick server: what a team would write without Vitrine's architecture. One Node process,
 * the `ws` library, JSON frames, and the same model work (the very same call handlers) on the main thread.
 * Usage: tsx native-bench/baseline-server.ts <bundle version dir> <port>
 */
import { WebSocketServer } from 'ws';
import { readBundle, resolveBundleVersion } from '../src/bundle/read.js';
import { instantiate } from '../src/rank/model.js';
import { rankContext } from '../src/rank/context.js';
import { runCall } from '../src/serve/calls/index.js';
import { DEFAULT_LIMITS } from '../src/protocol/calls.js';
import { errorBody } from '../src/protocol/errors.js';
import { parseRequest } from '../src/protocol/validate.js';

const [dir, portArg] = process.argv.slice(2);
const data = readBundle(resolveBundleVersion(dir));
const ctx = rankContext(await instantiate(data));
const version = data.manifest.version;
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
        const result = await runCall(ctx, { call: req.call, now });
        ws.send(
          JSON.stringify({ id, result, bundle: version, serverMs: Math.round((performance.now() - t0) * 1000) / 1000 }),
        );
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
