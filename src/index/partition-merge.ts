import { HnswPartition, type PartitionHits } from './hnsw-partition.js';
import type { Neighbours } from './hnsw.js';
import type { ScanGroup } from './scan-group.js';

/**
 * Partitions are visited from the largest norms down. Results scoring at least a partition's bound
 * beat all of its items: it need only supply the rest (and a graph asked for fewer can search
 * proportionally narrower), and once all k are settled the rest are skipped.
 */
export class PartitionMerge {
  private items: number[] = [];
  private scores: number[] = [];
  private at = 0;
  /** How many results the unit `next` returned is asked for. */
  need = 0;
  /** Graphs and scan groups asked so far. */
  visited = 0;

  constructor(
    private readonly units: readonly (HnswPartition | ScanGroup)[],
    readonly qNorm: number,
    private readonly k: number,
    private readonly ef: number,
  ) {}

  next(): HnswPartition | ScanGroup | undefined {
    const unit = this.units[this.at++];
    if (!unit) return undefined;
    const bound = this.qNorm * unit.maxNorm;
    let sure = 0;
    while (sure < this.items.length && this.scores[sure] >= bound) sure++;
    this.need = this.k - sure;
    if (this.need <= 0) return undefined;
    this.visited++;
    if (unit instanceof HnswPartition) unit.setEf(Math.max(this.need, Math.ceil((this.ef * this.need) / this.k)));
    return unit;
  }

  add(hits: PartitionHits): void {
    ({ items: this.items, scores: this.scores } = mergeBest(this.items, this.scores, hits.items, hits.scores, this.k));
  }

  result(): Neighbours {
    return { items: Int32Array.from(this.items), scores: Float32Array.from(this.scores) };
  }
}

/** The best k of two lists each sorted best first. */
function mergeBest(
  ai: number[],
  as: number[],
  bi: number[],
  bs: number[],
  k: number,
): { items: number[]; scores: number[] } {
  if (ai.length === 0) return { items: bi.slice(0, k), scores: bs.slice(0, k) };
  const items: number[] = [];
  const scores: number[] = [];
  let a = 0;
  let b = 0;
  while (items.length < k && (a < ai.length || b < bi.length)) {
    if (b >= bi.length || (a < ai.length && as[a] >= bs[b])) {
      items.push(ai[a]);
      scores.push(as[a++]);
    } else {
      items.push(bi[b]);
      scores.push(bs[b++]);
    }
  }
  return { items, scores };
}
