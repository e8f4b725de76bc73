import { parentPort, workerData } from 'node:worker_threads';
import type { ExecutionProviderChoice } from '../backends/onnx.js';
import type { BundleData } from '../bundle/model.js';
import { fromThread } from '../bundle/threads.js';
import type { Item } from '../data/types.js';
import { rankContext } from '../rank/context.js';
import { instantiate } from '../rank/model.js';
import { answerBatch, type WorkerReply, type WorkerTask } from './answer.js';
import type { FromWorker, ToWorker } from './worker-threads.js';

/** What the main thread hands each worker: the bundle (large arrays in shared memory) and settings. */
export interface WorkerInit {
  bundle: BundleData;
  catalog?: Item[];
  provider: ExecutionProviderChoice;
  efSearch?: number;
}

const init = workerData as WorkerInit;
// The pool hands this worker no request before it says it is ready (index loaded, ONNX session open).
const model = await instantiate(fromThread(init.bundle), {
  provider: init.provider,
  efSearch: init.efSearch,
  catalog: init.catalog,
  batchedScans: true,
});
const ctx = rankContext(model);
const version = model.data.manifest.version;

const port = parentPort!;
const post = (m: FromWorker<WorkerReply>): void => port.postMessage(m);
port.on('message', ({ id, task }: ToWorker<WorkerTask>) => {
  answerBatch(ctx, version, task)
    .then((reply) => post({ id, reply }))
    // A reply that cannot be cloned fails its batch, not the worker.
    .catch((error: unknown) => post({ id, error }));
});
post({ ready: true, provider: model.ranker.provider });
