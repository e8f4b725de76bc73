import { spawn } from 'node:child_process';
import { cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliPath, tempDir } from './helpers/paths.js';

interface Reply {
  result?: { items: { id: string; explanation?: string }[] } & Record<string, unknown>;
  bundle?: string;
  error?: { code: string };
}

describe('vitrine demo (what npm start runs)', () => {
  it('generates, trains and serves, evaluates in the background, answers its printed example call, reloads on SIGHUP and exits 0 on SIGTERM', async () => {
    const cwd = tempDir();
    const bundleDir = join(cwd, 'models', 'demo');
    const child = spawn(process.execPath, [cliPath, 'demo', '--size', 'tiny', '--port', '0', '--bundle', bundleDir], {
      cwd,
      env: { ...process.env, VITRINE_PROGRESS: '0', VITRINE_ADMIN_TOKEN: '', VITRINE_CACHE: join(cwd, 'cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      while (!/Press Ctrl-C to stop/.test(out)) {
        if (child.exitCode !== null) throw new Error(`demo exited early: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // It said where it writes, and printed the URL and a fresh admin token.
      expect(out).toContain(`its bundles under ${bundleDir}`);
      const base = /Vitrine is serving bundle \S+ at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1];
      const token = /Authorization: Bearer ([0-9a-f]{24})'/.exec(out)![1];
      const example = /curl -s -X POST \S+\/v1\/recommend -d '(\{"user":"u12","k":5\})'/.exec(out)![1];
      const call = async (
        path: string,
        body: string,
        headers: Record<string, string> = {},
      ): Promise<{ status: number; reply: Reply }> => {
        const r = await fetch(`${base}${path}`, { method: 'POST', body, headers });
        return { status: r.status, reply: (await r.json()) as Reply };
      };
      const first = await call('/v1/recommend', example);
      expect(first.reply.result?.items).toHaveLength(5);
      expect(first.reply.result?.items.every((x) => typeof x.explanation === 'string')).toBe(true);
      expect((await call('/admin/reload', '', { authorization: 'Bearer wrong' })).status).toBe(401);

      // A newer version appears; SIGHUP switches to it without a restart.
      const [v1] = readdirSync(bundleDir).filter((v) => !v.startsWith('.'));
      // The evaluation against the baselines runs in the background and reports when it ends.
      while (!/evaluation: two-stage NDCG@10 \S+/.test(out)) {
        if (child.exitCode !== null) throw new Error(`demo exited: ${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(out).toMatch(
        /evaluation: two-stage NDCG@10 0\.\d+ \(\d\.\d\dx EASE\); EASE 0\.\d+, item-kNN 0\.\d+, popularity 0\.\d+ \(\d+ s; full report: \S+evaluation\.json\)/,
      );
      expect(first.reply.bundle).toBe(v1);
      cpSync(join(bundleDir, v1), join(bundleDir, 'v99999999-000000'), { recursive: true });
      child.kill('SIGHUP');
      let version = v1;
      // Waits on progress, up to a minute: a new pool starting on a busy 2-core machine takes a while.
      for (const deadline = Date.now() + 60_000; version === v1 && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 25));
        version = (await call('/v1/recommend', example)).reply.bundle ?? '';
      }
      expect(version).toBe('v99999999-000000');
      // The printed admin token works for the reload call too (nothing newer: a no-op).
      const reload = await call('/admin/reload', '', { authorization: `Bearer ${token}` });
      expect([reload.status, reload.reply.result]).toEqual([200, { from: 'v99999999-000000', to: 'v99999999-000000' }]);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
