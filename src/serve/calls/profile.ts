import type { ProfileCall } from '../../protocol/calls.js';
import type { ProfileResult } from '../../protocol/replies.js';
import { ownAffinities, rawRfm } from '../../model/profile.js';
import { segmentClock } from '../../model/segments.js';
import { round6, type RankContext } from '../../rank/context.js';
import { resolveUser } from '../../rank/user.js';
import { shopperSegment } from './segment.js';
import type { Task } from './task.js';

/**
 * `profile`: the shopper's segment, top affinities, RFM and attributes. Segments and RFM are measured
 * at the bundle's data end (SEGMENT_CLOCK), as batch-score measures them, whatever the server's clock.
 */
export function profileCall(ctx: RankContext, c: ProfileCall, task: Task): ProfileResult {
  const m = ctx.model;
  const u = resolveUser(m, c.user, c.history, task);
  const seg = m.data.segments;
  const at = segmentClock(m.data.manifest.data.referenceTime);
  const rfm = rawRfm(u.history, at);
  const segment = shopperSegment(ctx, u.history);
  const top = ownAffinities(u.history, m.catalog, seg.spec.affinityKind).map((a) => ({
    name: a.name,
    share: round6(a.share),
  }));
  return {
    user: {
      known: u.known,
      coldStart: u.history.items.length === 0,
      historyLength: u.history.items.length,
      events: u.history.events,
    },
    segment: { id: segment.id >= 0 ? segment.id : null, label: segment.label },
    affinities: { kind: seg.spec.affinityKind, top },
    rfm: { recencyDays: round6(Math.expm1(rfm[0])), events: u.history.events, spend: round6(u.history.spend) },
    attributes: u.attrs ? { ageBand: u.attrs.ageBand, gender: u.attrs.gender, region: u.attrs.region } : undefined,
  };
}
