import type { BundleData } from '../bundle/model.js';
import { DEFAULT_FILTERS, type ModelCall } from '../protocol/calls.js';
import { VitrineError } from '../protocol/errors.js';
import type { RecommendResult, SimilarResult } from '../protocol/replies.js';
import type { Task } from './calls/task.js';
import type { TaskOutcome, WorkerReply } from './answer.js';

/**
 * The queries a new version must answer before it serves: a known shopper, the same shopper's items
 * as an anonymous history, and an item they touched. A model that loads but cannot rank (its ranker
 * answering NaN, its factors all zero) is refused here instead of serving fill-ins and zero scores.
 */
function smokeTasks(b: BundleData): Task[] {
  const h = b.history.ui;
  let u = 0;
  while (u < b.userIds.length && h.indptr[u + 1] === h.indptr[u]) u++;
  if (u === b.userIds.length) return [];
  const items = Array.from(h.items.subarray(h.indptr[u], h.indptr[u + 1]), (i) => b.items[i].id).slice(0, 20);
  const filters = { ...DEFAULT_FILTERS, excludeSeen: false, availableOnly: false };
  const k = Math.min(5, b.items.length);
  const calls: ModelCall[] = [
    { call: 'recommend', user: b.userIds[u], k, filters, diversity: 0, explain: false, ranking: 'ranker' },
    {
      call: 'recommend',
      history: items.map((item) => ({ item })),
      k,
      filters,
      diversity: 0,
      explain: false,
      ranking: 'ranker',
    },
    { call: 'similar', item: items[0], k, filters },
  ];
  return calls.map((call) => ({ call, now: b.manifest.data.referenceTime }));
}

/** Why a smoke query's answer shows a broken model, or undefined when it is a real answer. */
function smokeFailure(task: Task, outcome: TaskOutcome): string | undefined {
  const what =
    task.call.call === 'recommend'
      ? task.call.user !== undefined
        ? 'recommend for a known shopper'
        : 'recommend for an anonymous history'
      : 'similar';
  if ('error' in outcome)
    return `${what} failed: ${outcome.error.message}${outcome.internal ? ` (${outcome.internal.split('\n')[0]})` : ''}`;
  const items = (outcome.result as RecommendResult | SimilarResult).items;
  const ranked = items.filter((x) => x.stage !== 'trending');
  if (ranked.length === 0) return `${what} answered only trending fill-ins`;
  if (!ranked.every((x) => x.score !== null && Number.isFinite(x.score)))
    return `${what} answered scores that are not numbers`;
  if (task.call.call === 'similar' && ranked.every((x) => x.score === 0)) return `${what} scored every item 0`;
  return undefined;
}

/** The smoke queries answered by `run` (a new pool's workers): why the model is broken, or undefined. */
export async function smokeTest(
  b: BundleData,
  run: (batch: Task[]) => Promise<WorkerReply>,
): Promise<string | undefined> {
  const smoke = smokeTasks(b);
  const answered = await run(smoke).catch((e: unknown) => ({ failed: e }));
  if ('failed' in answered) return String(answered.failed);
  return smoke.map((t, j) => smokeFailure(t, answered.outcomes[j])).find((w) => w !== undefined);
}

export function smokeError(dir: string, why: string): VitrineError {
  return new VitrineError('damaged', `${dir}: the version loads but does not answer (${why}); it is not served`);
}
