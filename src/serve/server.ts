import type { Server } from 'node:http';
import { resolveBundleVersion } from '../bundle/read.js';
import type { Item } from '../data/types.js';
import { VitrineError } from '../protocol/errors.js';
import type { Reply } from '../protocol/replies.js';
import { createStore } from '../state/open-store.js';
import type { StateStore } from '../state/store.js';
import type { ServerConfig } from './config/index.js';
import { Dispatcher } from './dispatch.js';
import { logLaneLoad } from './inline-lane.js';
import { createLogger, type Logger, Pseudonymiser } from './log.js';
import { ServerMetrics } from './metrics.js';
import { ModelPool } from './pool.js';
import { type PoolOptions, poolSettings } from './pool-options.js';
import { type AdminDeps, registerAdmin, registerExperiments, registerPrivacy } from './transport/admin.js';
import type { Transport } from './transport/codec.js';
import { HttpIo, registerCalls, registerFallback, registerPreflight } from './transport/http.js';
import { type ProbeState, registerProbes, startProbeListener } from './transport/probes.js';
import { listenExclusive, loadUws, type UWS } from './transport/uws.js';
import { WebSocketTransport } from './transport/ws.js';
import { offerIn, PromotionDesk } from './promotions.js';
import { missingVersion, readCatalog, sameFiles } from './versions.js';
import { openStateStore } from './store-start.js';
import { ExperimentDesk } from './experiments.js';
import { VariantPools } from './variant-pools.js';
import { type DashboardDeps, dashboardData } from './dashboard/data.js';
import { TrafficSampler } from './dashboard/traffic.js';
import { registerDashboard } from './transport/dashboard.js';

/**
 * The Vitrine server's lifecycle: load the bundle into a worker pool, open the state store, listen
 * (uWebSockets.js on the main thread for I/O and validation), hot-reload versions, drain on shutdown.
 * Requests go through one Dispatcher whatever their transport, so every transport gives the same answer.
 */
export class VitrineServer {
  readonly metrics: ServerMetrics;
  readonly log: Logger;
  private readonly uws = loadUws();
  private app: UWS.TemplatedApp | undefined;
  private listenSocket: UWS.us_listen_socket | undefined;
  private pool: ModelPool | undefined;
  private readonly store: StateStore;
  private readonly promotions: PromotionDesk;
  readonly experiments: ExperimentDesk;
  private readonly variantPools: VariantPools;
  private readonly traffic: TrafficSampler;
  private readonly dispatcher: Dispatcher;
  private readonly ws: WebSocketTransport;
  private catalog: Item[] | undefined;
  private draining = false;
  private reloading: Promise<{ from: string; to: string }> | undefined;
  port = 0;
  /** The port of the probe listener (--probe-port), when there is one. */
  probePort: number | undefined;
  private probeServer: Server | undefined;

  constructor(
    readonly config: ServerConfig,
    log?: Logger,
  ) {
    this.log = log ?? createLogger(config.logLevel);
    this.store = createStore(config);
    this.metrics = new ServerMetrics(() => this.store.stats());
    this.traffic = new TrafficSampler(this.metrics);
    this.promotions = new PromotionDesk(config, { store: this.store, metrics: this.metrics, log: this.log });
    this.experiments = new ExperimentDesk(config.experiments, {
      store: this.store,
      metrics: this.metrics,
      missingVersion: (v) => missingVersion(config.bundle, v),
      maxCandidates: config.limits.maxCandidates,
    });
    this.variantPools = new VariantPools(config.bundle, () => ({
      ...this.poolOptions(),
      workers: config.experimentWorkers,
      maxQueue: config.experimentWorkers * 256,
      // A variant takes a share of the traffic: not worth another copy of its model in memory.
      inlineBelow: 0,
    }));
    this.dispatcher = new Dispatcher({
      config,
      metrics: this.metrics,
      log: this.log,
      pseudo: new Pseudonymiser(config.pseudonymKey),
      store: this.store,
      promotions: this.promotions,
      pool: () => this.pool,
      experiments: this.experiments,
      variantPool: (v) => this.variantPools.get(v),
      draining: () => this.draining,
      onStored: () => this.refreshStoreGauges(),
    });
    this.ws = new WebSocketTransport({
      config,
      metrics: this.metrics,
      dispatcher: this.dispatcher,
      draining: () => this.draining,
    });
  }

  get version(): string | undefined {
    return this.pool?.version;
  }

  /** Answers one decoded request as if it had arrived on `transport` (for in-process callers and tests). */
  handle(raw: unknown, transport: Transport, callFromPath?: string): Promise<Reply> {
    return this.dispatcher.handle(raw, transport, callFromPath);
  }

  async start(): Promise<number> {
    const c = this.config;
    if (c.catalog) this.catalog = await readCatalog(c.catalog);
    const catalogue = await this.promotions.read();
    const experiments = this.experiments.read(offerIn(catalogue));
    const dir = resolveBundleVersion(c.bundle);
    this.pool = await ModelPool.start(dir, this.poolOptions());
    try {
      await this.variantPools.commit(
        await this.variantPools.prepare(ExperimentDesk.bundlesOf(experiments), this.pool.version),
      );
      const offers = this.promotions.commit(catalogue);
      if (offers !== undefined) this.log.info({ file: c.promotions, promotions: offers }, 'promotion catalogue loaded');
      if (this.experiments.commit(experiments) !== undefined)
        this.log.info(
          { file: c.experiments, experiments: experiments?.experiments.length, variants: this.variantPools.versions },
          'experiments loaded',
        );
      this.metrics.setBundle(this.pool.version);
      // A store that cannot be opened (Redis away, an event log another server holds) stops the start.
      await openStateStore(this.store, c, this.log, this.metrics, this.pool.manifest.data.referenceTime);
      this.refreshStoreGauges();
      const { version, threads: workers, provider } = this.pool;
      this.log.info(
        { bundle: dir, version, workers, provider, newCatalogItems: this.catalog?.length ?? 0 },
        'bundle loaded',
      );
      await this.open();
    } catch (e) {
      await this.abortStart();
      throw e;
    }
    this.log.info({ host: c.host, port: this.port, probePort: this.probePort }, 'listening');
    return this.port;
  }

  /** The routes, the port, the traffic sampler and the probe port. */
  private async open(): Promise<void> {
    const c = this.config;
    const app = this.uws.App();
    this.app = app;
    this.routes(app);
    this.port = await this.listen(app);
    this.traffic.start();
    if (c.probePort !== undefined) {
      const refresh = (): void => this.refreshGauges();
      const probes = await startProbeListener(c.host, c.probePort, () => this.probeState(), this.metrics, refresh);
      this.probeServer = probes.server;
      this.probePort = probes.port;
    }
  }

  /** Releases whatever a failed start took (the port, the sampler, the workers, the store) before it fails. */
  private async abortStart(): Promise<void> {
    if (this.listenSocket) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    this.traffic.stop();
    this.probeServer?.close();
    await Promise.all([this.pool?.close(), this.variantPools.close(), this.store.close().catch(() => undefined)]);
    this.pool = undefined;
  }

  private async listen(app: UWS.TemplatedApp): Promise<number> {
    const { port, socket } = await listenExclusive(this.uws, app, this.config.host, this.config.port);
    this.listenSocket = socket;
    return port;
  }

  private poolOptions(): PoolOptions {
    return {
      ...poolSettings(this.config),
      catalog: this.catalog,
      onBatch: (n) => this.metrics.batchSize.observe(n),
      onWorkerError: (err) => this.log.error({ err }, 'a worker failed'),
      onInline: (e) => ('served' in e ? this.metrics.inline.inc() : logLaneLoad(this.log, e)),
      staggered: this.listenSocket !== undefined,
    };
  }

  private routes(app: UWS.TemplatedApp): void {
    const io = new HttpIo(this.config, this.dispatcher);
    this.ws.register(app);
    registerProbes(
      app,
      () => this.probeState(),
      this.metrics,
      () => this.refreshGauges(),
    );
    registerCalls(app, this.config, io, this.dispatcher);
    registerPreflight(app, this.config);
    const admin: AdminDeps = {
      config: this.config,
      io,
      store: this.store,
      pool: () => this.pool,
      version: () => this.version,
      reload: (v) => this.reload(v),
      missingVersion: (v) => missingVersion(this.config.bundle, v),
      experiments: () => this.experiments.report(),
    };
    registerAdmin(app, admin);
    registerPrivacy(app, admin);
    registerExperiments(app, admin);
    const dashboard: DashboardDeps = {
      manifest: () => this.pool?.manifest,
      traffic: this.traffic,
      experiments: this.experiments,
      promotions: this.promotions,
    };
    registerDashboard(app, admin, () => dashboardData(dashboard), this.traffic.intervalSeconds * 1000);
    registerFallback(app, this.dispatcher);
  }

  private probeState(): ProbeState {
    return {
      ready: this.pool !== undefined && !this.draining,
      bundle: this.pool?.version ?? null,
      draining: this.draining,
    };
  }

  private refreshStoreGauges(): void {
    const s = this.store.stats();
    this.metrics.streamedUsers.set(s.users);
    this.metrics.streamedEvicted.set(s.evicted);
    this.metrics.streamedBytes.set(s.heldBytes);
  }

  private refreshGauges(): void {
    if (!this.pool) return;
    this.metrics.queueDepth.set(this.pool.queueSize);
    this.metrics.utilization.set(this.pool.utilization);
    this.metrics.queueDeadline.set(this.pool.deadlineMs() / 1000);
  }

  /**
   * Hot reload: load the newest (or the named) version into a new pool beside the serving one, swap
   * when every new worker is warm, then let the old pool finish its in-flight tasks. No request is
   * dropped: each is answered by whichever version it was dispatched to.
   */
  async reload(version?: string): Promise<{ from: string; to: string }> {
    if (this.draining) throw new VitrineError('shutting_down', 'the server is shutting down; no reload');
    // One at a time, in the order asked: a reload asked for while another runs (another version, or
    // a SIGHUP during an admin call) starts once that one has settled, and gets its own answer.
    const attempt = (this.reloading ?? Promise.resolve()).then(
      () => this.reloadNow(version),
      () => this.reloadNow(version),
    );
    this.reloading = attempt;
    const clear = (): void => {
      if (this.reloading === attempt) this.reloading = undefined;
    };
    attempt.then(clear, clear);
    return attempt;
  }

  private async reloadNow(version: string | undefined): Promise<{ from: string; to: string }> {
    // Queued before a shutdown began: loading a whole bundle only to close it would delay the drain.
    if (this.draining) throw new VitrineError('shutting_down', 'the server is shutting down; no reload');
    const from = this.pool?.version ?? '';
    try {
      // Everything a reload changes (the catalogue, the experiments, their bundle versions' pools, the
      // main version) is read and started first, then served together in one step, or not at all.
      const catalogue = await this.promotions.read();
      const experiments = this.experiments.read(offerIn(catalogue));
      const dir = resolveBundleVersion(version ? `${this.config.bundle}/${version}` : this.config.bundle);
      // Same files in the same directory: the pool stays (a version retrained in place is a new model).
      const same = this.pool !== undefined && dir === this.pool.dir && sameFiles(dir, this.pool.manifest);
      const next = same ? undefined : await ModelPool.start(dir, { ...this.poolOptions(), takesOver: this.pool });
      const plan = await this.variantPools
        .prepare(ExperimentDesk.bundlesOf(experiments), (next ?? this.pool)?.version)
        .catch(async (e: unknown) => {
          await next?.close();
          throw e;
        });
      // A shutdown that began while the pools were starting: serve nothing new, and let the drain go on.
      if (this.draining) {
        await Promise.all([next?.close(), this.variantPools.discard(plan)]);
        throw new VitrineError('shutting_down', 'the server is shutting down; no reload');
      }
      this.promotions.commit(catalogue);
      this.experiments.commit(experiments);
      // Served from here on: closing what was retired may fail (logged) without unsaying the reload.
      const retired = this.variantPools.commit(plan).catch((err: unknown) => this.closeFailed(err));
      if (!next) {
        await retired;
        return { from, to: from };
      }
      const old = this.pool;
      this.pool = next;
      // Not awaited: the reload is done once the new pool serves; a failed rewrite leaves the old log whole.
      this.store.prune(next.manifest.data.referenceTime).then(
        (kept) => {
          this.refreshStoreGauges();
          this.log.info({ kept }, 'event log rewritten to the events the new bundle has not learned from');
        },
        (err: unknown) =>
          this.log.error({ err }, 'rewriting the event log at reload failed (the next start rewrites it)'),
      );
      this.metrics.setBundle(next.version);
      this.metrics.reloads.inc({ outcome: 'ok' });
      this.log.info({ from, to: next.version, dir }, 'bundle reloaded');
      // Answered once the old versions have finished what they were handed and released their workers.
      await Promise.all([old?.close().catch((err: unknown) => this.closeFailed(err)), retired]);
      return { from, to: next.version };
    } catch (e) {
      this.metrics.reloads.inc({ outcome: 'failed' });
      this.log.error({ err: e }, 'reload failed; still serving the previous version');
      throw e;
    }
  }

  private closeFailed(err: unknown): void {
    this.log.error({ err }, 'closing a retired worker pool failed (the reload stands)');
  }

  /**
   * Graceful shutdown: stop accepting, refuse new requests, wait (up to drainSeconds) until every
   * accepted request has been answered, then close connections and workers.
   */
  async shutdown(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.log.info({ inFlight: this.dispatcher.inFlight }, 'draining');
    if (this.listenSocket) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    const deadline = Date.now() + this.config.drainSeconds * 1000;
    while (this.dispatcher.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    // Let the last replies leave the socket buffers before closing.
    await new Promise((r) => setTimeout(r, 20));
    this.ws.closeAll();
    this.traffic.stop();
    await this.reloading?.catch(() => undefined);
    await this.pool?.close();
    await this.variantPools.close();
    await this.store.close().catch((err: unknown) => this.log.error({ err }, 'closing the event log failed'));
    (this.app as (UWS.TemplatedApp & { close?: () => void }) | undefined)?.close?.();
    this.probeServer?.close();
    this.log.info({ leftInFlight: this.dispatcher.inFlight }, 'stopped');
  }
}
