import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './paths.js';

/** A free TCP port on 127.0.0.1 (the OS picks it; it is released again for the caller to take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface RedisOptions {
  /** Redis's appendfsync; the AOF is on unless `appendonly` is false. */
  appendfsync?: 'always' | 'everysec' | 'no';
  appendonly?: boolean;
  cluster?: boolean;
}

/** A real redis-server (Debian's package) on 127.0.0.1, in a directory of its own, started and stopped by a test. */
export class TestRedis {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly o: RedisOptions,
  ) {}

  static async start(o: RedisOptions = {}): Promise<TestRedis> {
    const r = new TestRedis(await freePort(), tempDir('vitrine-redis-'), o);
    await r.launch();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (or restarts) the server on its port and directory, resolving once it accepts connections. */
  async launch(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
      '--enable-debug-command',
      'local',
    ];
    args.push(
      '--appendonly',
      this.o.appendonly === false ? 'no' : 'yes',
      '--appendfsync',
      this.o.appendfsync ?? 'everysec',
    );
    if (this.o.cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(this.dir, 'nodes.conf'));
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer): void => {
        out += d.toString();
        if (/Ready to accept connections/.test(out)) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready: ${out}`)));
    });
  }

  /** kill -9: what a crash of Redis looks like. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** Runs redis-cli against this server (DEBUG SLEEP, CONFIG SET, ...). */
  cli(...args: string[]): string {
    return execFileSync('redis-cli', ['-p', String(this.port), ...args], { encoding: 'utf8' });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

/** A three-master Redis Cluster on 127.0.0.1 (redis-cli --cluster create), for the Redis Cluster store. */
export class TestRedisCluster {
  private constructor(readonly nodes: TestRedis[]) {}

  static async start(): Promise<TestRedisCluster> {
    const nodes = await Promise.all([0, 1, 2].map(() => TestRedis.start({ cluster: true })));
    execFileSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { stdio: 'ignore' },
    );
    // Every node must agree the cluster is up before it answers keys.
    for (const deadline = Date.now() + 20_000; ; ) {
      if (nodes.every((n) => /cluster_state:ok/.test(n.cli('cluster', 'info')))) break;
      if (Date.now() > deadline) throw new Error('the Redis Cluster did not come up within 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    return new TestRedisCluster(nodes);
  }

  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
