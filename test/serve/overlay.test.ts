import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventOverlay } from '../../src/serve/overlay.js';
import { tempDir } from '../helpers/paths.js';

describe('streamed events', () => {
  it('keeps at most maxUsers users, forgetting the least recently active first', () => {
    const overlay = new EventOverlay({ maxPerUser: 3, maxUsers: 3 });
    const event = (item: string, ts: number) => ({ item, type: 'view', ts });
    overlay.add('a', event('i1', 1));
    overlay.add('b', event('i2', 2));
    overlay.add('c', event('i3', 3));
    overlay.add('a', event('i4', 4)); // a is now the most recently active
    overlay.add('d', event('i5', 5)); // over the cap: b, the least recently active, goes
    expect([overlay.users, overlay.evicted]).toEqual([3, 1]);
    expect(overlay.get('b')).toBeUndefined();
    expect(overlay.get('a')?.map((e) => e.item)).toEqual(['i1', 'i4']);
    for (let t = 0; t < 5; t++) overlay.add('c', event(`x${t}`, 10 + t));
    expect(overlay.get('c')?.map((e) => e.item)).toEqual(['x2', 'x3', 'x4']);
    overlay.add('e', event('i6', 20)); // a went quiet before d and c
    expect(overlay.get('a')).toBeUndefined();
    expect(overlay.evicted).toBe(2);
  });

  it('replays its log at start, keeps only what it holds in the log, and survives a torn last line', async () => {
    const logPath = join(tempDir(), 'log', 'events.jsonl');
    const options = { maxPerUser: 2, maxUsers: 2, logPath };
    const first = new EventOverlay(options);
    expect(await first.open(100)).toEqual({ events: 0, unreadable: 0, kept: 0 });
    const event = (item: string, ts: number) => ({ item, type: 'view', ts });
    first.add('old', event('i0', 50)); // before the bundle's data end: learned already
    first.add('a', event('i1', 101));
    first.add('a', event('i2', 102));
    first.add('a', event('i3', 103)); // a keeps its last two
    first.add('b', event('i4', 104));
    first.add('c', event('i5', 105)); // past two users: a is forgotten
    first.add('b', event('i6', 106));
    // A crash mid-write leaves half a line with no newline.
    appendFileSync(logPath, '{"user":"c","item":"i7","ty');
    expect(readFileSync(logPath, 'utf8').split('\n')).toHaveLength(8);

    const second = new EventOverlay(options);
    expect(await second.open(100)).toEqual({ events: 7, unreadable: 1, kept: 3 });
    expect(second.get('a')).toBeUndefined();
    expect(second.get('b')?.map((e) => e.item)).toEqual(['i4', 'i6']);
    expect(second.get('c')?.map((e) => e.item)).toEqual(['i5']);
    // The log now holds just those three, whole lines in recency order, so the next append is intact.
    expect(readFileSync(logPath, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { item: string }).item)).toEqual(['i5', 'i4', 'i6']);
    second.add('d', event('i8', 107)); // evicts c, the least recently active

    const third = new EventOverlay(options);
    expect(await third.open(100)).toEqual({ events: 4, unreadable: 0, kept: 3 });
    expect(third.get('c')).toBeUndefined();
    expect(third.get('d')?.map((e) => e.item)).toEqual(['i8']);
    // A newer bundle has learned from everything up to 105.
    const fourth = new EventOverlay(options);
    expect(await fourth.open(105)).toEqual({ events: 3, unreadable: 0, kept: 2 });
    expect(fourth.get('b')?.map((e) => e.item)).toEqual(['i6']);
    writeFileSync(logPath, '');
    expect(await new EventOverlay(options).open(0)).toEqual({ events: 0, unreadable: 0, kept: 0 });
  });
});
