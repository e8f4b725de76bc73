import type { ProfileCall } from '../../protocol/calls.js';
import type { ProfileResult } from '../../protocol/replies.js';
import { affinityShares, profileVector, rawRfm } from '../../model/profile.js';
import { assignSegment } from '../../model/segments.js';
import { round6, type RankContext } from '../../rank/context.js';
import { resolveUser } from '../../rank/user.js';
import type { Task } from './task.js';

/** `profile`: the shopper's segment, top affinities, RFM and attributes. */
export function profileCall(ctx: RankContext, c: ProfileCall, task: Task): ProfileResult {
  const m = ctx.model;
  const u = resolveUser(m, c.user, c.history, task.streamed, task.now);
  const seg = m.data.segments;
  const rfm = rawRfm(u.history, task.now);
  const segment =
    u.history.items.length > 0 ? assignSegment(seg, profileVector(u.history, task.now, m.catalog, seg.spec)) : -1;
  const shares = affinityShares(u.history, m.catalog, seg.spec);
  const top = seg.spec.affinityNames
    .map((name, j) => ({ name, share: round6(shares[j]) }))
    .filter((a) => a.share > 0)
    .sort((a, b) => b.share - a.share)
    .slice(0, 5);
  return {
    user: {
      known: u.known,
      coldStart: u.history.items.length === 0,
      historyLength: u.history.items.length,
      events: u.history.events,
    },
    segment:
      segment >= 0
        ? { id: segment, label: seg.labels[segment] }
        : { id: null, label: 'new shopper (no history with items this bundle knows)' },
    affinities: { kind: seg.spec.affinityKind, top },
    rfm: { recencyDays: round6(Math.expm1(rfm[0])), events: u.history.events, spend: round6(u.history.spend) },
    attributes: u.attrs ? { ageBand: u.attrs.ageBand, gender: u.attrs.gender, region: u.attrs.region } : undefined,
  };
}
