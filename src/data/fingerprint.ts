import { createHash } from 'node:crypto';
import type { Dataset } from './dataset.js';

/** sha256 over what defines a split: user and item ids, and every event's user, item, type and time. */
export function datasetFingerprint(ds: Dataset): string {
  const h = createHash('sha256');
  const bytes = (a: Int32Array | Uint8Array | Float64Array): Uint8Array =>
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  h.update(ds.users.list().join('\n'));
  h.update('\u0000');
  h.update(ds.items.list().join('\n'));
  h.update(bytes(ds.events.user));
  h.update(bytes(ds.events.item));
  h.update(bytes(ds.events.type));
  h.update(bytes(ds.events.timestamp));
  return h.digest('hex');
}
