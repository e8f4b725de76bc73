/**
 * How long requests must keep waiting past the overload deadline (or being refused) before the
 * queue counts as standing, and how long without that before it no longer does (CoDel's interval):
 * long enough that a burst is queued under the ordinary deadline, short enough that an overload is
 * answered within a tenth of a second.
 */
const STANDING_QUEUE_MS = 100;

/**
 * Tells a standing queue (more traffic than the workers can serve) from a burst they will work off,
 * after CoDel: a spell of overload signs (requests kept waiting past the overload deadline, dropped
 * for their deadline, refused), none further apart than the interval, lasting longer than it; a
 * request served in arrival order within the overload deadline starts a spell over. The queue stops
 * standing after an interval without a sign.
 *
 * Not judged by idle workers: on a shared two-core machine under twice its capacity a worker slot
 * sat free for 2-40% of some 100 ms windows (the main thread or the load generator descheduled),
 * and leaving the overload mode on those doubled the admitted requests' p99.
 */
export class StandingQueue {
  private since: number | undefined;
  private last = Number.NEGATIVE_INFINITY;

  constructor(private readonly intervalMs = STANDING_QUEUE_MS) {}

  standing(now: number): boolean {
    return this.since !== undefined && now - this.last <= this.intervalMs && now - this.since > this.intervalMs;
  }

  /** A request dispatched after waiting past the overload deadline, dropped for its deadline, or refused. */
  sign(now: number): void {
    if (this.since === undefined || now - this.last > this.intervalMs) this.since = now;
    this.last = now;
  }

  /**
   * A request dispatched in arrival order within the overload deadline: the queue is keeping up, and
   * a spell not yet long enough to count starts over. (Newest-first dispatch, while standing, says
   * nothing of the kind.)
   */
  keptUp(now: number): void {
    if (!this.standing(now)) this.since = undefined;
  }
}
