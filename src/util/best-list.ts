/**
 * The `max` best of what is offered, strongest first (ties: the lower item). A short sorted list:
 * for the few dozen places a candidate source fills, cheaper than a heap and already in order.
 */
export class BestList {
  readonly items: number[] = [];
  readonly scores: number[] = [];

  constructor(private readonly max: number) {}

  /** What an offer must beat once the list is full (-Infinity before; Infinity when it keeps none). */
  get floor(): number {
    if (this.max <= 0) return Infinity;
    return this.items.length < this.max ? -Infinity : this.scores[this.items.length - 1];
  }

  /** Whether `item` at `score` would be kept: checked before work that only a kept offer needs. */
  wants(item: number, score: number): boolean {
    const n = this.items.length;
    if (n < this.max) return true;
    return n > 0 && (score > this.scores[n - 1] || (score === this.scores[n - 1] && item < this.items[n - 1]));
  }

  offer(item: number, score: number): void {
    if (!this.wants(item, score)) return;
    let at = this.items.length;
    while (at > 0 && (this.scores[at - 1] < score || (this.scores[at - 1] === score && this.items[at - 1] > item)))
      at--;
    this.items.splice(at, 0, item);
    this.scores.splice(at, 0, score);
    if (this.items.length > this.max) {
      this.items.pop();
      this.scores.pop();
    }
  }
}
