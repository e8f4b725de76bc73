import client from 'prom-client';
import type { StoreStats } from '../state/store.js';
import { StageHistogram } from './stage-histogram.js';

/** Prometheus metrics for one server process, in its own registry (tests start several servers). */
export class ServerMetrics {
  readonly registry = new client.Registry();
  readonly requests = new client.Counter({
    name: 'vitrine_requests_total',
    help: 'Requests by call, transport and outcome',
    labelNames: ['call', 'transport', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly latency = new client.Histogram({
    name: 'vitrine_request_duration_seconds',
    help: 'Server-side request latency by call',
    labelNames: ['call'] as const,
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly stages = new StageHistogram(
    'vitrine_request_stage_seconds',
    "Where served requests spent their time, by call and stage: queue (waiting for a worker), handoff (to the worker), wait (behind the batch's earlier requests), retrieve, features, ranker (recommend), finish (the rest of its own work), rest (behind the batch's later requests), back (to the main thread), reply (the main thread after the worker)",
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.5],
  );
  readonly inFlight = new client.Gauge({
    name: 'vitrine_in_flight_requests',
    help: 'Requests accepted and not yet answered',
    registers: [this.registry],
  });
  readonly inline = new client.Counter({
    name: 'vitrine_inline_requests_total',
    help: 'Requests the main thread served with its own model (every worker idle, traffic under --inline-below): no handoff or back stage',
    registers: [this.registry],
  });
  readonly queueDepth = new client.Gauge({
    name: 'vitrine_worker_queue_depth',
    help: "Requests waiting for a worker, with those let in that are still reading the shopper's state",
    registers: [this.registry],
  });
  readonly queueDeadline = new client.Gauge({
    name: 'vitrine_worker_queue_deadline_seconds',
    help: 'How long a request may wait for a worker now: the overload deadline while the queue stands (requests kept waiting past it for over 100 ms), the queue deadline otherwise',
    registers: [this.registry],
  });
  readonly batchSize = new client.Histogram({
    name: 'vitrine_worker_batch_size',
    help: 'Requests handed to a worker in one message',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  readonly utilization = new client.Gauge({
    name: 'vitrine_worker_utilization',
    help: 'Share of worker time spent on tasks since start',
    registers: [this.registry],
  });
  readonly connections = new client.Gauge({
    name: 'vitrine_websocket_connections',
    help: 'Open WebSocket connections',
    registers: [this.registry],
  });
  readonly connectionsRefused = new client.Counter({
    name: 'vitrine_connections_refused_total',
    help: 'WebSocket upgrades refused, by reason (unauthorized, draining, max_connections)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly shed = new client.Counter({
    name: 'vitrine_requests_shed_total',
    help: 'Requests answered `overloaded` or `too_many_in_flight` without being served, by reason (queue_full, expected_wait, deadline, connection_unread, unread_replies, connection_in_flight)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly connectionsClosed = new client.Counter({
    name: 'vitrine_connections_closed_total',
    help: 'WebSocket connections the server closed (1013, try again later), by reason (unread_replies, refusals_in_a_row)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly unreadReplyBytes = new client.Gauge({
    name: 'vitrine_unread_reply_bytes',
    help: 'Bytes of replies written to WebSocket connections and not yet taken by their clients',
    registers: [this.registry],
  });
  readonly storeErrors = new client.Counter({
    name: 'vitrine_store_errors_total',
    help: 'State store operations that failed, by operation (read, write) and code (unavailable, timeout)',
    labelNames: ['op', 'code'] as const,
    registers: [this.registry],
  });
  readonly storeInfo = new client.Gauge({
    name: 'vitrine_store_info',
    help: 'The state store (value 1): its backend, and what an acknowledged event survives (guarantee) given its settings (detail)',
    labelNames: ['backend', 'guarantee', 'detail'] as const,
    registers: [this.registry],
  });
  readonly promotionDecisions = new client.Counter({
    name: 'vitrine_promotion_decisions_total',
    help: 'promotion decisions by the arm chosen (a promotion id, or none) and whether the exploration floor chose it',
    labelNames: ['promotion', 'explored'] as const,
    registers: [this.registry],
  });
  readonly promotionConversions = new client.Counter({
    name: 'vitrine_promotion_conversions_total',
    help: 'Decisions credited with an order, by arm and by what credited it (purchase, redeem)',
    labelNames: ['promotion', 'by'] as const,
    registers: [this.registry],
  });
  readonly experimentExposures = new client.Counter({
    name: 'vitrine_experiment_exposures_total',
    help: 'Replies that exposed a shopper to an experiment variant',
    labelNames: ['experiment', 'variant'] as const,
    registers: [this.registry],
  });
  readonly experimentOutcomes = new client.Counter({
    name: 'vitrine_experiment_outcomes_total',
    help: 'Clicks, carts and purchases credited to an experiment variant',
    labelNames: ['experiment', 'variant', 'type'] as const,
    registers: [this.registry],
  });
  readonly promotionEvents = new client.Counter({
    name: 'vitrine_promotion_events_total',
    help: 'promotion_view and promotion_redeem events, by type and whether they matched a decision held for the shopper',
    labelNames: ['type', 'matched'] as const,
    registers: [this.registry],
  });
  readonly promotionCatalogue = new client.Gauge({
    name: 'vitrine_promotions',
    help: 'Promotions in the loaded catalogue',
    registers: [this.registry],
  });
  readonly bundle = new client.Gauge({
    name: 'vitrine_bundle_info',
    help: 'The loaded bundle version (value 1)',
    labelNames: ['version'] as const,
    registers: [this.registry],
  });
  readonly reloads = new client.Counter({
    name: 'vitrine_bundle_reloads_total',
    help: 'Hot reloads by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly streamedUsers = new client.Gauge({
    name: 'vitrine_streamed_users',
    help: 'Users with events streamed since their bundle was built',
    registers: [this.registry],
  });
  readonly streamedEvicted = new client.Gauge({
    name: 'vitrine_streamed_users_evicted',
    help: 'Users whose streamed events were forgotten to stay within maxStreamedUsers and maxStreamedMemoryMiB',
    registers: [this.registry],
  });
  readonly streamedBytes = new client.Gauge({
    name: 'vitrine_streamed_bytes',
    help: 'Estimated memory the streamed events take (bounded by maxStreamedMemoryMiB)',
    registers: [this.registry],
  });

  constructor(store: () => StoreStats) {
    // Default names already start with process_ or nodejs_: the prefix only adds vitrine_.
    client.collectDefaultMetrics({ register: this.registry, prefix: 'vitrine_' });
    new client.Counter({
      name: 'vitrine_event_log_fsyncs_total',
      help: 'Event log fsyncs (events arriving together share one)',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(store().logFsyncs ?? 0);
      },
    });
    new client.Gauge({
      name: 'vitrine_event_log_bytes',
      help: 'Size of the event log (rewritten to what is held at each start and reload)',
      registers: [this.registry],
      collect() {
        this.set(store().logBytes ?? 0);
      },
    });
  }

  /** The whole /metrics page: the registry's metrics and the stage histogram. */
  async text(): Promise<string> {
    return `${await this.registry.metrics()}\n${this.stages.exposition()}`;
  }

  setBundle(version: string): void {
    this.bundle.reset();
    this.bundle.set({ version }, 1);
  }
}
