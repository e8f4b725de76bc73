import { C1, Packr, Unpackr } from 'msgpackr';
import type { RequestId } from '../../protocol/calls.js';
import type { Reply } from '../../protocol/replies.js';

export type Transport = 'ws-msgpack' | 'ws-json' | 'http';

// Plain msgpack maps (no msgpackr record extension), so any msgpack client can talk to us; keys
// whose value is undefined are left out, as JSON.stringify does, so both encodings carry the same result.
const packr = new Packr({ useRecords: false, skipValues: [undefined] } as ConstructorParameters<typeof Packr>[0]);
// Integers msgpack encodes in 64 bits (Python's msgpack does so from 2^32) arrive as numbers when
// exactly representable, so such an id is echoed and such a k accepted. msgpackr supports 'auto';
// its typings list only the other modes, hence the cast.
const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  int64AsType: 'auto',
} as unknown as ConstructorParameters<typeof Unpackr>[0]);

/** Decodes a frame (msgpack when binary, JSON when text); throws when it is neither. */
export function decodeFrame(message: ArrayBuffer, isBinary: boolean): unknown {
  // Copy out of uWS's buffer, which is reused once the callback returns.
  const bytes = Buffer.from(new Uint8Array(message));
  const raw: unknown = isBinary ? unpackr.unpack(bytes) : JSON.parse(bytes.toString('utf8'));
  // 0xC1 is the byte msgpack never uses; msgpackr decodes it to a marker rather than refusing it.
  if (raw === C1) throw new Error('0xC1');
  return raw;
}

export function encodeReply(reply: Reply, isBinary: boolean): Buffer | string {
  return isBinary ? packr.pack(reply) : JSON.stringify(reply);
}

/** The id of a request that may not be valid, when it has a usable one (so a refusal can echo it). */
export function idOf(raw: unknown): RequestId | null {
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const id = (raw as { id?: unknown }).id;
    if ((typeof id === 'string' && id.length <= 128) || (typeof id === 'number' && Number.isFinite(id))) return id;
  }
  return null;
}
