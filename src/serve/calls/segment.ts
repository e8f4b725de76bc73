import type { UserHistory } from '../../data/history.js';
import { profileVector } from '../../model/profile.js';
import { assignSegment, segmentClock } from '../../model/segments.js';
import type { RankContext } from '../../rank/context.js';

/**
 * The shopper's segment, measured at the bundle's data end (as batch-score measures it, whatever the
 * server's clock): what `profile` reports and what `promotion` decides by. -1 without a history.
 */
export function shopperSegment(ctx: RankContext, history: UserHistory): { id: number; label: string } {
  const m = ctx.model;
  const seg = m.data.segments;
  if (history.items.length === 0) return { id: -1, label: 'new shopper (no history with items this bundle knows)' };
  const id = assignSegment(
    seg,
    profileVector(history, segmentClock(m.data.manifest.data.referenceTime), m.catalog, seg.spec),
  );
  return { id, label: seg.labels[id] };
}
