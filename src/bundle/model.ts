import type { EventWeights } from '../data/event-weights.js';
import type { UserItems } from '../data/interactions.js';
import type { Item, UserAttributes } from '../data/types.js';
import type { FeatureSpec } from '../features/spec.js';
import type { UserTotals } from '../data/history.js';
import type { HnswParams, PartitionInfo } from '../index/hnsw.js';
import type { RetrievalConfig } from '../index/retrieve.js';
import type { AlsModel } from '../model/als.js';
import type { EaseModel } from '../model/ease.js';
import type { ItemNeighbours } from '../model/knn.js';
import type { Popularity } from '../model/popularity.js';
import type { AssociationRules } from '../model/rules.js';
import type { SegmentModel } from '../model/segments.js';
import type { Manifest } from './manifest.js';

/**
 * A bundle's content in plain data: typed arrays (SharedArrayBuffer-backed when loaded for a
 * worker pool, so workers share one copy) and JSON. It is what training produces in memory, what
 * the writer saves and the reader returns, and what `instantiate` turns into a working model.
 */
export interface BundleData {
  manifest: Manifest;
  /** Directory the bundle lives in (for the HNSW index files); empty before it is written. */
  dir: string;
  items: Item[];
  userIds: string[];
  users: (UserAttributes | undefined)[];
  als: Omit<AlsModel, 'numUsers' | 'numItems'>;
  knn: ItemNeighbours;
  /** Directed co-visitation: per item, what shoppers went on to next (weights in `similarity`). */
  follows: ItemNeighbours;
  popularity: Popularity;
  rules: AssociationRules;
  /** What one event of each type added to a pair's count in training: streamed events are weighed alike. */
  eventWeights: EventWeights;
  /** `rejected`: per user, the items they disliked or returned (never recommended to them). */
  history: { ui: UserItems; totals: UserTotals; rejected: { indptr: Int32Array; items: Int32Array } };
  featureSpec: FeatureSpec;
  segments: SegmentModel;
  rankerOnnx: Uint8Array;
  /** A purchase-labelled model over the ranker's features, when the data recorded enough purchases. */
  propensityOnnx?: Uint8Array;
  /** The EASE baseline, when the catalogue is small enough to store its dense weights. */
  ease?: EaseModel & { chosenBy: string; validation?: Record<string, number> };
  hnsw: HnswParams & { recallAt200: number; partitions: PartitionInfo[] };
  retrieval: RetrievalConfig;
  /**
   * After a shared read: the bytes of catalog.json and users.json in shared memory, so a thread
   * handed the bundle parses them itself instead of having ~100k objects cloned on the way (see
   * bundle/threads.ts).
   */
  sharedText?: { catalog: Uint8Array; users: Uint8Array };
}
