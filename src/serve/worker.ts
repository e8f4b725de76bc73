import { Piscina } from 'piscina';
import type { BundleData } from '../bundle/model.js';
import type { Item } from '../data/types.js';
import { instantiate } from '../rank/model.js';
import type { ExecutionProviderChoice } from '../rank/onnx-ranker.js';
import { Handlers, type Task } from './handlers.js';

/** What the main thread hands each worker: the bundle (large arrays in shared memory) and settings. */
export interface WorkerInit {
  bundle: BundleData;
  catalog?: Item[];
  provider: ExecutionProviderChoice;
  efSearch?: number;
}

export type WorkerTask = Task | { ping: true };

export interface WorkerReply {
  version: string;
  result?: unknown;
  /** Time spent in the worker, milliseconds. */
  workerMs: number;
  provider?: string;
}

const init = Piscina.workerData as WorkerInit;
// Top-level await: piscina imports this module before the first task, so every worker is ready
// (index loaded, ONNX session open) before it is handed a request.
const model = await instantiate(init.bundle, { provider: init.provider, efSearch: init.efSearch, catalog: init.catalog });
const handlers = new Handlers(model);

export default async function handle(task: WorkerTask): Promise<WorkerReply> {
  const t0 = performance.now();
  if ('ping' in task) return { version: handlers.version, workerMs: 0, provider: model.ranker.provider };
  const result = await handlers.run(task);
  return { version: handlers.version, result, workerMs: performance.now() - t0 };
}
