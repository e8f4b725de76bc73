import { IdMap } from '../data/ids.js';
import type { Item } from '../data/types.js';
import type { BundleData } from '../bundle/model.js';
import { encodeCatalog, type EncodedCatalog } from '../data/catalog.js';
import { FeatureBuilder } from '../features/features.js';
import { HnswIndex } from '../index/hnsw.js';
import { AttributePlacer } from '../index/placement.js';
import type { ItemGraphs } from '../index/retrieve.js';
import { attributeListSteps, ITEMS_PER_TOKEN } from '../model/attribute-lists.js';
import type { ExecutionProviderChoice } from '../backends/onnx.js';
import { OnnxRanker } from './onnx-ranker.js';
import { ItemAccumulator } from '../util/item-accumulator.js';
import { runPaced } from '../util/steps.js';

/** A bundle made ready to answer requests in this thread: index loaded, ranker session open, lookups built. */
export interface RecModel {
  data: BundleData;
  catalog: EncodedCatalog;
  itemIndex: IdMap;
  userIndex: IdMap;
  hnsw: HnswIndex;
  ranker: OnnxRanker;
  features: FeatureBuilder;
  placer: AttributePlacer;
  /** Items ordered by trending score, best first: the cold-start and fill-in list. */
  trendingOrder: Int32Array;
  /** Catalogue items the bundle was not trained on (appended after the bundle's items). */
  newItems: number;
  /** What retrieval walks besides the index (the attribute lists only where the bundle uses them). */
  graphs: ItemGraphs;
  /** Scratch for retrieval; one per thread, like the model. */
  scratch: ItemAccumulator;
}

export interface InstantiateOptions {
  provider?: ExecutionProviderChoice;
  threads?: number;
  efSearch?: number;
  /** An index already in memory (training evaluates before writing); else loaded from the bundle dir. */
  hnsw?: HnswIndex;
  /** A newer catalogue: items missing from the bundle are placed by their attributes and become retrievable. */
  catalog?: Item[];
  /**
   * Give the wide scan groups their Gemm (serving's workers, whose batches ask several searches at
   * once). Evaluation asks one at a time and never reaches the Gemm's batch size: without it, the
   * vectors' third copy and its ONNX sessions are not made.
   */
  batchedScans?: boolean;
  /**
   * Awaited between the steps of loading, for a thread that serves while it loads (the main
   * thread's own model, see InlineLane): the index is then read off the thread, and no step holds
   * the event loop for long. Without it the model is made as fast as it can be.
   */
  pace?: () => Promise<void>;
}

export async function instantiate(bundle: BundleData, options: InstantiateOptions = {}): Promise<RecModel> {
  const pace = options.pace ?? (() => Promise.resolve());
  const { dir, als, hnsw: graphs } = bundle;
  const hnsw =
    options.hnsw ??
    (options.pace
      ? await HnswIndex.loadInSteps(dir, als.factors, graphs.partitions, graphs.efSearch, options.pace)
      : HnswIndex.load(dir, als.factors, graphs.partitions, graphs.efSearch));
  if (options.efSearch !== undefined) hnsw.setEf(options.efSearch);
  const itemIndex = await runPaced(IdMap.steps(bundle.items.map((it) => it.id)), options.pace);
  const fresh = (options.catalog ?? []).filter((it) => !itemIndex.has(it.id));
  await pace();
  // One placer over the bundle's own items: it places new items, finds their peers, and places
  // described items in `similar`.
  const placer = await runPaced(AttributePlacer.steps(bundle.items, als.itemFactors, als.factors), options.pace);
  await pace();
  const data = fresh.length > 0 ? extendWithItems(bundle, fresh, hnsw, placer) : bundle;
  if (options.pace) await hnsw.prepareScansInSteps(options.pace);
  else hnsw.prepareScans();
  if (options.batchedScans) await hnsw.prepareBatchedScans();
  const catalog = encodeCatalog(data.items);
  await pace();
  const ranker = await OnnxRanker.create(
    data.rankerOnnx,
    data.featureSpec.names.length,
    options.provider ?? 'cpu',
    options.threads ?? 1,
  );
  const features = new FeatureBuilder(
    {
      catalog,
      factors: data.als.factors,
      itemFactors: data.als.itemFactors,
      knn: data.knn,
      follows: data.follows,
      popularity: data.popularity,
      rules: data.rules,
      peers: fresh.length > 0 ? peersOf(placer, bundle.items.length, fresh) : undefined,
    },
    data.featureSpec,
  );
  await pace();
  const walks: ItemGraphs = {
    knn: data.knn,
    follows: data.follows,
    attributes:
      data.retrieval.attributeCandidates > 0
        ? await runPaced(attributeListSteps(catalog, data.popularity.count, ITEMS_PER_TOKEN), options.pace)
        : undefined,
  };
  await pace();
  const trend = data.popularity.trending;
  const trendingOrder = Int32Array.from({ length: catalog.numItems }, (_, i) => i).sort(
    (a, b) => trend[b] - trend[a] || a - b,
  );
  await pace();
  // data.items is the bundle's items and then the fresh ones: interned in that order, the same map.
  for (const it of fresh) itemIndex.intern(it.id);
  const userIndex = await runPaced(IdMap.steps(data.userIds), options.pace);
  return {
    data,
    catalog,
    itemIndex,
    userIndex,
    hnsw,
    ranker,
    features,
    placer,
    trendingOrder,
    newItems: fresh.length,
    graphs: walks,
    scratch: new ItemAccumulator(1),
  };
}

/**
 * Appends new catalogue items: vectors placed by attributes (and added to the HNSW index), no
 * interactions yet (zero popularity, no neighbours or rules), so features treat them as fresh.
 */
function extendWithItems(b: BundleData, fresh: Item[], hnsw: HnswIndex, placer: AttributePlacer): BundleData {
  const d = b.als.factors;
  const n0 = b.items.length;
  const n = n0 + fresh.length;
  const itemFactors = new Float32Array(n * d);
  itemFactors.set(b.als.itemFactors);
  fresh.forEach((it, j) => {
    const v = placer.place(it).vector;
    itemFactors.set(v, (n0 + j) * d);
    hnsw.add(v, n0 + j);
  });
  const grow = <T extends Float32Array | Float64Array>(a: T, fill: number): T => {
    const out = new (a.constructor as new (len: number) => T)(n);
    out.fill(fill);
    out.set(a);
    return out;
  };
  const growIndptr = (p: Int32Array): Int32Array => {
    const out = new Int32Array(n + 1).fill(p[n0]);
    out.set(p);
    return out;
  };
  return {
    ...b,
    items: [...b.items, ...fresh],
    als: { ...b.als, itemFactors },
    popularity: {
      ...b.popularity,
      count: grow(b.popularity.count, 0),
      trending: grow(b.popularity.trending, 0),
      firstSeen: grow(b.popularity.firstSeen, NaN),
      lastSeen: grow(b.popularity.lastSeen, NaN),
      repeatShare: grow(b.popularity.repeatShare, 0),
      repeatDays: grow(b.popularity.repeatDays, NaN),
    },
    knn: { ...b.knn, numItems: n, indptr: growIndptr(b.knn.indptr) },
    follows: { ...b.follows, numItems: n, indptr: growIndptr(b.follows.indptr) },
    rules: { ...b.rules, numItems: n, indptr: growIndptr(b.rules.indptr) },
  };
}

/**
 * Known items a new item's features are borrowed from (FeatureModel.peers): its closest by attributes.
 * Three: on the synthetic shop a new Makeup item reached the top 20 of five of the ten most
 * Makeup-minded shoppers with three, one with five, none with ten (averaging more peers drifts to
 * the category's middling items).
 */
const PEERS = 3;

function peersOf(placer: AttributePlacer, n0: number, fresh: Item[]): Map<number, Int32Array> {
  return new Map(fresh.map((it, j) => [n0 + j, placer.peers(it, PEERS)]));
}
