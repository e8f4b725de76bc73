import type { Command } from 'commander';
import { loadConfig, type ServerConfig } from '../../serve/config/index.js';
import { VitrineServer } from '../../serve/server.js';
import { choiceArg, floatArg, intArg } from '../options.js';

export interface ServeFlags {
  bundle?: string;
  config?: string;
  host?: string;
  port?: number;
  workers?: number;
  maxBatch?: number;
  concurrentTasksPerWorker?: number;
  catalog?: string;
  adminToken?: string;
  clientToken?: string;
  eventLog?: string;
  eventLogSync?: ServerConfig['eventLogSync'];
  maxStreamedUsers?: number;
  maxStreamedMemoryMiB?: number;
  provider?: ServerConfig['provider'];
  efSearch?: number;
  logLevel?: string;
  clock?: 'wall' | 'bundle';
  probePort?: number;
  corsOrigins?: string[];
  store?: string;
  storeTimeoutMs?: number;
  promotions?: string;
  attributionHours?: number;
  promotionExploration?: number;
  experiments?: string;
  experimentWorkers?: number;
  queueDeadlineMs?: number;
  overloadDeadlineMs?: number;
  inlineBelow?: number;
  maxConnections?: number;
  maxUnreadReplyMiB?: number;
}

/** Starts a server and wires SIGTERM/SIGINT (drain, then exit) and SIGHUP (hot reload). */
export async function startServer(flags: ServeFlags): Promise<VitrineServer> {
  const { config: file, ...rest } = flags;
  const config = loadConfig(flags.bundle, file, rest);
  const server = new VitrineServer(config);
  // Listened for before the (possibly long) bundle load: SIGHUP's default action ends the process.
  // One that arrives while starting reloads once the server is up, in case a newer version landed.
  let started = false;
  let reloadWhenStarted = false;
  const reload = (): void => {
    server.reload().catch(() => undefined);
  };
  process.on('SIGHUP', () => {
    if (started) reload();
    else reloadWhenStarted = true;
  });
  await server.start();
  started = true;
  if (reloadWhenStarted) reload();
  const stop = (signal: string): void => {
    server.log.info({ signal }, 'shutdown requested');
    void server.shutdown().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return server;
}

const list = (v: string): string[] =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** The serve command's flags: [flags, what it does, parser]. Every one has a config key and most a VITRINE_* variable. */
const SERVE_OPTIONS: [string, string, ((v: string) => unknown)?][] = [
  ['-b, --bundle <dir>', 'bundle directory (its newest version) or a version directory'],
  ['-c, --config <file>', 'JSON config file (flags override it; VITRINE_* environment variables sit between)'],
  ['--host <host>', 'interface to listen on (default 127.0.0.1)'],
  ['-p, --port <n>', 'port (0 picks a free one; default 8080)', intArg(0, 65535)],
  ['--workers <n>', 'worker threads (default: one per core)', intArg(1, 256)],
  [
    '--max-batch <n>',
    'most queued requests a worker takes as one message (default 8; 1 disables batching)',
    intArg(1, 1024),
  ],
  ['--tasks-per-worker <n>', 'batches a worker holds at once (default 2)', intArg(1, 64)],
  [
    '--queue-deadline <ms>',
    'longest a request may wait for a worker; past it (or expected past it) it is answered overloaded, not served late (default 50)',
    intArg(1, 60_000),
  ],
  [
    '--overload-deadline <ms>',
    'the same once requests have kept waiting past it for over 100 ms (overload rather than a burst): the newest are served first, the excess is refused early (default 5)',
    intArg(1, 60_000),
  ],
  [
    '--inline-below <req/s>',
    'arrivals per second under which a request that finds every worker idle is served by the main thread itself, saving two thread hand-offs; 0: never (default 100)',
    intArg(0, 1_000_000),
  ],
  [
    '--max-connections <n>',
    'open WebSocket connections; more are refused with 503 (default 10000)',
    intArg(1, 1_000_000),
  ],
  [
    '--max-unread-replies <MiB>',
    'replies held for clients that have not read them, all connections together; past it those clients are refused until they read (default 256)',
    intArg(1, 1 << 20),
  ],
  ['--catalog <file>', 'a newer catalogue (items.csv/.jsonl): items the bundle lacks are placed by attributes'],
  ['--admin-token <token>', 'bearer token for the /admin calls (or VITRINE_ADMIN_TOKEN)'],
  ['--client-token <token>', 'bearer token every client must send (or VITRINE_CLIENT_TOKEN)'],
  [
    '--store <url>',
    'keep per-user state in Redis, shared by every replica: redis://host:port[/db], rediss://..., redis+cluster://host:port,host:port (default: in this process, with --event-log)',
  ],
  [
    '--store-timeout <ms>',
    'how long a state store command may take before the request gets `timeout` (default 250)',
    intArg(10, 60_000),
  ],
  ['--event-log <file>', 'append streamed events to this file and replay it at start (the embedded store)'],
  [
    '--event-log-sync <mode>',
    'fsync (default): acknowledge an event once the log is on disk (group commit); none: once written (survives a crash of the process, not of the machine)',
    choiceArg(['fsync', 'none'] as const),
  ],
  [
    '--max-streamed-users <n>',
    'users whose streamed events are held (default 100000; the least recently active are forgotten first)',
    intArg(1, 100_000_000),
  ],
  [
    '--max-streamed-memory <MiB>',
    'memory the held events may take, estimated (default 512; past it the least recently active users are forgotten)',
    intArg(1, 1 << 20),
  ],
  [
    '--provider <p>',
    'ONNX execution provider: auto (CUDA when present), cpu, cuda',
    choiceArg(['auto', 'cpu', 'cuda'] as const),
  ],
  ['--ef-search <n>', "override the bundle's HNSW efSearch", intArg(10, 100000)],
  ['--log-level <level>', 'pino log level (info, debug, warn, ...)'],
  [
    '--clock <c>',
    'now for features: wall (default) or bundle (the data end; for demos on historical data)',
    choiceArg(['wall', 'bundle'] as const),
  ],
  [
    '--probe-port <n>',
    'also answer /healthz, /readyz and /metrics on this port, over HTTP/1.0 too (for HAProxy-style checks)',
    intArg(0, 65535),
  ],
  [
    '--promotions <file>',
    'a promotion catalogue (CSV, TSV, JSONL or JSON) the promotion call chooses from; re-read at every reload',
  ],
  [
    '--attribution-hours <n>',
    'a purchase this many hours after a promotion decision is credited to it (default 72)',
    intArg(1, 24 * 90),
  ],
  [
    '--promotion-exploration <share>',
    'the share of promotion decisions made at random among the eligible offers (default 0.02)',
    floatArg(0, 1),
  ],
  [
    '--experiments <file>',
    'an experiments file (JSON): A/B tests of bundle versions, ranking and promotion policies; re-read at every reload',
  ],
  [
    '--experiment-workers <n>',
    'workers for each bundle version an experiment variant serves beside the main one (default 1)',
    intArg(1, 256),
  ],
  ['--cors-origin <origins>', 'origins whose pages may call the HTTP API from a browser, comma-separated (or *)', list],
];

export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('serve recommendations over WebSocket (msgpack/JSON) and HTTP from a model bundle');
  for (const [flags, help, parse] of SERVE_OPTIONS) {
    if (parse) command.option(flags, help, parse);
    else command.option(flags, help);
  }
  command
    .addHelpText(
      'after',
      `
Endpoints: ws://HOST:PORT/ws (binary frames: msgpack, text frames: JSON), POST /v1/<call> (JSON),
GET /healthz, GET /readyz, GET /metrics; with the admin token (Authorization: Bearer <token>):
POST /admin/reload, POST /admin/export {"user"}, POST /admin/forget {"user"}, GET /admin/forgotten,
GET /admin/experiments; GET /dashboard in a browser (user any, password the admin token).
Signals: SIGTERM/SIGINT drain in-flight requests and exit; SIGHUP reloads the newest bundle version.
Example: vitrine serve --bundle models/shop --port 8080 --admin-token s3cret`,
    )
    .action(
      async ({
        tasksPerWorker,
        maxStreamedMemory,
        corsOrigin,
        storeTimeout,
        queueDeadline,
        overloadDeadline,
        maxUnreadReplies,
        ...opts
      }: ServeFlags & {
        queueDeadline?: number;
        overloadDeadline?: number;
        maxUnreadReplies?: number;
        tasksPerWorker?: number;
        maxStreamedMemory?: number;
        corsOrigin?: string[];
        storeTimeout?: number;
      }) => {
        const server = await startServer({
          ...opts,
          storeTimeoutMs: storeTimeout,
          queueDeadlineMs: queueDeadline,
          overloadDeadlineMs: overloadDeadline,
          maxUnreadReplyMiB: maxUnreadReplies,
          concurrentTasksPerWorker: tasksPerWorker,
          maxStreamedMemoryMiB: maxStreamedMemory,
          corsOrigins: corsOrigin,
        });
        console.log(
          `vitrine serving bundle ${server.version} on http://${server.config.host}:${server.port} (ws://${server.config.host}:${server.port}/ws)${server.probePort !== undefined ? `; probes on http://${server.config.host}:${server.probePort}` : ''}`,
        );
      },
    );
}
