import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/serve/config/index.js';
import { VitrineServer } from '../../src/serve/server.js';
import type { Reply } from '../helpers/client.js';
import { tempDir } from '../helpers/paths.js';

const fixture = inject('fixtureBundle');

/** Rewrites one array file of a version and its manifest entry (size, checksum, length), as a careless tool would. */
function rewriteArray(version: string, file: string, data: Float32Array): void {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  writeFileSync(join(version, file), bytes);
  const path = join(version, 'manifest.json');
  const m = JSON.parse(readFileSync(path, 'utf8')) as {
    files: Record<string, { bytes: number; sha256: string; length?: number }>;
  };
  m.files[file] = {
    ...m.files[file],
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    length: data.length,
  };
  writeFileSync(path, JSON.stringify(m));
}

describe('a version that does not describe a working model', () => {
  it('is refused by a reload, with the reason, while the serving version goes on answering', async () => {
    const bundle = join(tempDir(), 'shop');
    cpSync(fixture, join(bundle, 'v1'), { recursive: true });
    const server = new VitrineServer(
      loadConfig(bundle, undefined, { port: 0, workers: 1, logLevel: 'silent', clock: 'bundle', adminToken: 't' }),
    );
    await server.start();
    const reload = async (): Promise<{ status: number; reply: Reply }> => {
      const r = await fetch(`http://127.0.0.1:${server.port}/admin/reload`, {
        method: 'POST',
        headers: { authorization: 'Bearer t' },
      });
      return { status: r.status, reply: (await r.json()) as Reply };
    };
    try {
      // Cut to 1,000 bytes with the manifest updated to match: the checksums pass, the shapes do not.
      cpSync(join(bundle, 'v1'), join(bundle, 'v2'), { recursive: true });
      rewriteArray(join(bundle, 'v2'), 'als_item_factors.f32', new Float32Array(250).fill(0.1));
      const cut = await reload();
      expect(cut.status).toBe(500);
      expect(cut.reply.error?.message).toMatch(
        /als_item_factors has 250 values, expected \d+; the bundle is incomplete or damaged/,
      );
      // The right shape but no signal (every item factor zero): it loads, and the smoke queries refuse it.
      cpSync(join(bundle, 'v1'), join(bundle, 'v3'), { recursive: true });
      const items = JSON.parse(readFileSync(join(bundle, 'v1', 'manifest.json'), 'utf8')) as {
        dimensions: { items: number; factors: number };
      };
      rewriteArray(
        join(bundle, 'v3'),
        'als_item_factors.f32',
        new Float32Array(items.dimensions.items * items.dimensions.factors),
      );
      const zero = await reload();
      expect(zero.status).toBe(500);
      expect(zero.reply.error?.message).toMatch(
        /the version loads but does not answer \(similar scored every item 0\)/,
      );
      expect(
        (await fetch(`http://127.0.0.1:${server.port}/readyz`).then((r) => r.json())) as { bundle: string },
      ).toMatchObject({ bundle: 'v1' });
      const r = await fetch(`http://127.0.0.1:${server.port}/v1/similar`, {
        method: 'POST',
        body: '{"item":"i3","k":3}',
      });
      const reply = (await r.json()) as Reply & { result: { items: { score: number }[] } };
      expect([reply.bundle, reply.result.items.some((x) => x.score > 0)]).toEqual(['v1', true]);
    } finally {
      await server.shutdown();
    }
  });
});
