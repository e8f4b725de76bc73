import { FieldReader } from '../../src/data/fields.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataError, SkipReport } from '../../src/data/errors.js';
import { loadDataset } from '../../src/data/loaders/index.js';
import { cliPath, tempDir } from '../helpers/paths.js';

let dir: string;
const write = (name: string, content: string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

async function loadError(files: { events: string; items?: string }, lenient = false): Promise<DataError> {
  try {
    await loadDataset(files, { lenient });
  } catch (e) {
    if (e instanceof DataError) return e;
    throw e;
  }
  throw new Error('expected a DataError');
}

beforeAll(() => {
  dir = tempDir();
});

const header = 'user_id,item_id,type,timestamp,price\n';

describe('generic CSV/JSONL loaders', () => {
  it('loads CSV with quoting, ISO times, optional fields and extra columns kept as context', async () => {
    const events = write(
      'ok.csv',
      `${header.trim()},device\nu1,i1,view,1700000000,9.5,mobile\nu1,i2,purchase,2023-11-14T22:13:21Z,,desktop\n"u,2",i1,cart,1700000001.5,3,\n`,
    );
    const items = write(
      'items.csv',
      'item_id,category,brand,price,attributes,text,colour\ni1,Shoes,Acme,10,a|b,"Red shoe, ""fast""\nsecond line",red\ni3,Bags,,,,,\n',
    );
    const ds = await loadDataset({ events, items });
    expect(ds.numEvents).toBe(3);
    expect(ds.users.list()).toEqual(['u1', 'u,2']);
    expect(ds.events.timestamp[1]).toBe(1700000001);
    expect(Number.isNaN(ds.events.price[1])).toBe(true);
    expect(ds.events.price[2]).toBe(3);
    expect(ds.events.context[0]).toEqual({ device: 'mobile' });
    expect(ds.events.context[2]).toBeUndefined();
    expect(ds.itemInfo[0]).toMatchObject({
      id: 'i1',
      category: 'Shoes',
      brand: 'Acme',
      price: 10,
      attributes: ['a', 'b', 'colour:red'],
      text: 'Red shoe, "fast"\nsecond line',
    });
    // i2 is only in events: kept with a bare record and counted, not dropped.
    expect(ds.itemsWithoutCatalogue).toBe(1);
    expect(ds.numItems).toBe(3);
  });

  it('streams a file of several read blocks whose boundaries fall inside multibyte characters and quoted line breaks', async () => {
    const block = 1 << 20; // the reader's block size
    const rows = 30_000;
    const note = (j: number): string => `${'☕'.repeat(10 + (j % 7))} ${j}\n${'é'.repeat(j % 5)}𝄞`;
    let pad = '';
    let bytes = Buffer.alloc(0);
    let premise = false;
    // Pad the first row until the block boundaries split a character and a quoted field.
    for (let tries = 0; tries < 64 && !premise; tries++) {
      const lines = Array.from(
        { length: rows },
        (_, j) => `u${j % 97},i${j % 301},view,${1_700_000_000 + j},,"${j === 0 ? pad : ''}${note(j)}"`,
      );
      bytes = Buffer.from(`user_id,item_id,type,timestamp,price,note\n${lines.join('\n')}\n`, 'utf8');
      const inCharacter = (at: number): boolean => (bytes[at] & 0xc0) === 0x80;
      // No field holds an escaped quote, so the parity of the quotes before a byte says whether it is quoted.
      const inQuotes = (at: number): boolean => {
        let q = 0;
        for (let p = bytes.indexOf(34); p !== -1 && p < at; p = bytes.indexOf(34, p + 1)) q++;
        return q % 2 === 1;
      };
      premise = bytes.length > 2 * block && inCharacter(block) && inQuotes(2 * block);
      if (!premise) pad += 'x';
    }
    expect(premise).toBe(true);
    const ds = await loadDataset({ events: write('big.csv', bytes) });
    expect(ds.numEvents).toBe(rows);
    for (const j of [0, 1, 8_000, 8_001, 12_345, 17_000, 25_000, rows - 1])
      expect(ds.events.context[j]).toEqual({ note: `${j === 0 ? pad : ''}${note(j)}` });
    expect(ds.events.timestamp[rows - 1]).toBe(1_700_000_000 + rows - 1);
    // Every row's own text survived, not just the sampled ones.
    expect(
      ds.events.context.every((c, j) => (c as { note: string }).note.endsWith(`${j}\n${'é'.repeat(j % 5)}𝄞`)),
    ).toBe(true);
  });

  it('loads JSONL events with nested context', async () => {
    const events = write(
      'ok.jsonl',
      '{"user":"u1","item":"i1","event":"click","ts":1700000000,"context":{"page":"home"},"campaign":"x"}\n\n{"user_id":"u2","item_id":"i1","type":"RATE","timestamp":"1700000005","rating":4}\n',
    );
    const ds = await loadDataset({ events });
    expect(ds.numEvents).toBe(2);
    expect(ds.events.context[0]).toEqual({ page: 'home', campaign: 'x' });
    expect(ds.events.value[1]).toBe(4);
  });

  it('names the file, line and field of a missing column', async () => {
    const e = await loadError({ events: write('nocol.csv', 'user_id,item_id,timestamp\nu1,i1,5\n') });
    expect(e.message).toMatch(/nocol\.csv:1: field "type": required column is missing/);
  });

  it('names the file, line and field of a bad number', async () => {
    const e = await loadError({
      events: write('badnum.csv', `${header}u1,i1,view,1700000000,1.5\nu1,i2,view,1700000001,12abc\n`),
    });
    expect(e.message).toMatch(/badnum\.csv:3: field "price": not a number: "12abc"/);
    expect([e.line, e.field]).toEqual([3, 'price']);
  });

  it('rejects an unknown event type, listing the valid ones', async () => {
    const e = await loadError({ events: write('badtype.csv', `${header}u1,i1,like,1700000000,\n`) });
    expect(e.message).toMatch(
      /badtype\.csv:2: field "type": unknown event type "like" \(expected one of view, click, cart, purchase, rate, dislike, return\)/,
    );
  });

  it('rejects bytes that are not UTF-8, naming the line', async () => {
    const bad = Buffer.concat([
      Buffer.from(`${header}u1,i1,view,1700000000,\nu`),
      Buffer.from([0xe9, 0xff]),
      Buffer.from(',i1,view,1700000000,\n'),
    ]);
    const e = await loadError({ events: write('badenc.csv', bad) });
    expect(e.message).toMatch(/badenc\.csv:3: invalid UTF-8/);
  });

  it('refuses a header that is not UTF-8 even when lenient, rather than reading the first record as column names', async () => {
    const bad = Buffer.concat([
      Buffer.from('\nuser_id,item_'),
      Buffer.from([0xe9]),
      Buffer.from(
        `d,type,timestamp,value\nu1,i1,view,1700000000,\nuser_id,item_id,type,timestamp,value\nu2,i1,view,1700000001,\n`,
      ),
    ]);
    const e = await loadError({ events: write('badhdr.csv', bad) }, true);
    expect(e.message).toMatch(/badhdr\.csv:2: invalid UTF-8 byte sequence in the header line, which cannot be skipped/);
  });

  it('refuses a directory with two tables of one kind rather than picking one', async () => {
    const both = join(dir, 'both');
    mkdirSync(both);
    writeFileSync(join(both, 'events.csv'), header + 'u1,i1,view,1700000000,\n');
    writeFileSync(join(both, 'events.jsonl'), '{"user_id":"u1","item_id":"i2","type":"view","timestamp":1700000000}\n');
    await expect(loadDataset(both)).rejects.toThrow(/holds events\.csv and events\.jsonl; keep one events table/);
  });

  it('rejects an empty file and a header without records', async () => {
    expect((await loadError({ events: write('empty.csv', '') })).message).toMatch(/empty\.csv: file is empty/);
    expect((await loadError({ events: write('hdr.csv', header) })).message).toMatch(
      /hdr\.csv: has a header but no records/,
    );
    expect((await loadError({ events: write('empty.jsonl', '\n\n') })).message).toMatch(/file is empty/);
  });

  it('rejects wrong field counts, unclosed quotes, bad JSON, out-of-range times and duplicate items', async () => {
    expect((await loadError({ events: write('fields.csv', `${header}u1,i1,view\n`) })).message).toMatch(
      /fields\.csv:2: expected 5 fields as in the header, found 3/,
    );
    expect((await loadError({ events: write('quote.csv', `${header}u1,"i1,view,1,\n`) })).message).toMatch(
      /quote\.csv:2: quoted field is never closed/,
    );
    expect((await loadError({ events: write('bad.jsonl', '{"user":"u1",\n') })).message).toMatch(
      /bad\.jsonl:1: not valid JSON/,
    );
    expect((await loadError({ events: write('ms.csv', `${header}u1,i1,view,1700000000000,\n`) })).message).toMatch(
      /field "timestamp": .*milliseconds/,
    );
    const items = write('dup.csv', 'item_id,price\ni1,1\ni1,2\n');
    expect((await loadError({ events: write('e.csv', `${header}u1,i1,view,1,\n`), items })).message).toMatch(
      /dup\.csv:3: field "item_id": duplicate item id "i1" \(first on line 2\)/,
    );
    // The MovieLens layout refuses a second definition of a movie or a user just the same.
    const ml = join(dir, 'ml-dup');
    mkdirSync(ml);
    writeFileSync(join(ml, 'u.genre'), 'unknown|0\nAction|1\n');
    writeFileSync(
      join(ml, 'u.item'),
      '1|Toy Story (1995)|01-Jan-1995||http://x|0|1\n1|DUPLICATE (1995)|01-Jan-1995||http://x|1|0\n',
    );
    writeFileSync(join(ml, 'u.user'), '1|24|M|technician|85711\n');
    writeFileSync(join(ml, 'u.data'), '1\t1\t5\t874965758\n');
    await expect(loadDataset(ml)).rejects.toThrow(
      /u\.item:2: field "movie_id": duplicate movie id "1" \(first on line 1\)/,
    );
    writeFileSync(join(ml, 'u.item'), '1|Toy Story (1995)|01-Jan-1995||http://x|0|1\n');
    writeFileSync(join(ml, 'u.user'), '1|24|M|technician|85711\n1|60|F|writer|10001\n');
    await expect(loadDataset(ml)).rejects.toThrow(
      /u\.user:2: field "user_id": duplicate user id "1" \(first on line 1\)/,
    );
  });

  it('refuses two columns or keys that name the same field', async () => {
    expect(
      (await loadError({ events: write('two.csv', 'user_id,product_id,sku,type,timestamp\nu1,i1,s1,view,1\n') }))
        .message,
    ).toMatch(/two\.csv:1: field "item_id": columns "product_id" and "sku" both name this field/);
    expect(
      (await loadError({ events: write('two.jsonl', '{"user":"u1","item":"i1","sku":"s1","type":"view","ts":1}\n') }))
        .message,
    ).toMatch(/two\.jsonl:1: field "item_id": keys "item" and "sku" both name this field/);
  });

  it('reads times as Unix seconds or ISO 8601 only, a time without a zone as UTC', () => {
    const r = new FieldReader('t.csv', 2);
    const ts = (s: string): number => r.timestamp('timestamp', s);
    expect(ts('2026-01-05')).toBe(Date.UTC(2026, 0, 5) / 1000);
    expect(ts('2026-01-05T00:21:16')).toBe(Date.UTC(2026, 0, 5, 0, 21, 16) / 1000);
    expect(ts('2026-01-05 00:21:16')).toBe(Date.UTC(2026, 0, 5, 0, 21, 16) / 1000);
    expect(ts('2026-01-05T01:21:16+01:00')).toBe(Date.UTC(2026, 0, 5, 0, 21, 16) / 1000);
    expect(ts('2026-01-05T01:21:16+0100')).toBe(Date.UTC(2026, 0, 5, 0, 21, 16) / 1000);
    expect(ts('2026-01-05T00:21:16.5Z')).toBe(Date.UTC(2026, 0, 5, 0, 21, 16, 500) / 1000);
    for (const bad of ['hello 2', 'March 7', '01/02/2023', '2026-13-45', '2026-01-05Z'])
      expect(() => ts(bad), bad).toThrow(/t\.csv:2: field "timestamp": not a Unix time in seconds or an ISO 8601 date/);
  });

  it('lenient mode skips bad records, counts them and says why', async () => {
    const bad = Buffer.concat([
      Buffer.from(`${header}u1,i1,view,1700000000,\nu1,i2,like,1700000001,\nu2,i1,view,1700000002,abc\nu3,i1,view\n`),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(',i1,view,1,\nu4,i3,purchase,1700000003,5\n'),
    ]);
    const ds = await loadDataset({ events: write('mixed.csv', bad) }, { lenient: true });
    expect(ds.numEvents).toBe(2);
    const skipped = ds.source.skipped!;
    expect(skipped.skipped).toBe(4);
    expect(Object.values(skipped.byReason).reduce((a, b) => a + b, 0)).toBe(4);
    expect(Object.keys(skipped.byReason).join('\n')).toMatch(/unknown event type/);
    expect(Object.keys(skipped.byReason).join('\n')).toMatch(/not a number/);
    expect(Object.keys(skipped.byReason).join('\n')).toMatch(/invalid UTF-8/);
    expect(skipped.examples.some((m) => /mixed\.csv:3: field "type"/.test(m))).toBe(true);
  });

  it('reports the first bad record in file order, whatever kind of fault it has', async () => {
    // Line 2's bad type is a field fault, line 4's a structural one found while the block is read.
    expect(
      (await loadError({ events: write('order.csv', `${header}u1,i1,like,1,\nu1,i1,view,1,\nu1,i1,view\n`) })).message,
    ).toMatch(/order\.csv:2: field "type"/);
    const enc = Buffer.concat([
      Buffer.from(`${header}u1,i1,like,1,\nu1,i1,view,1,\nu`),
      Buffer.from([0xff]),
      Buffer.from(',i1,view,1,\n'),
    ]);
    expect((await loadError({ events: write('order-enc.csv', enc) })).message).toMatch(
      /order-enc\.csv:2: field "type"/,
    );
    expect(
      (await loadError({ events: write('order.jsonl', '{"user":"u1","item":"i1","type":"like","ts":1}\n{"user":\n') }))
        .message,
    ).toMatch(/order\.jsonl:1: field "type"/);
  });

  it('fails fast on a stray quote instead of reading the rest of the file into one record', async () => {
    const rows = Array.from({ length: 40_000 }, (_, j) => `u${j},i${j % 50},view,${1_700_000_000 + j},`).join('\n');
    const e = await loadError({ events: write('stray.csv', `${header}u1,i1,view,1,\nu2,"i2,view,1,\n${rows}\n`) });
    expect(e.message).toMatch(
      /stray\.csv:3: a quoted field opened on this line is still open \d+ lines and over 1 MiB later \(missing closing "\)/,
    );
  });

  it('refuses impossible dates, ids too large for a JSON number, and a header naming a column twice', async () => {
    const r = new FieldReader('t.csv', 2);
    for (const bad of ['2026-02-30', '2026-02-29T10:00', '2026-04-31'])
      expect(() => r.timestamp('timestamp', bad), bad).toThrow(/not a Unix time in seconds or an ISO 8601 date/);
    expect(r.timestamp('timestamp', '2024-02-29')).toBe(Date.UTC(2024, 1, 29) / 1000);
    const big = write(
      'big.jsonl',
      '{"user_id":9007199254740993,"item_id":"i1","type":"view","timestamp":1}\n{"user_id":9007199254740992,"item_id":"i1","type":"view","timestamp":1}\n',
    );
    expect((await loadError({ events: big })).message).toMatch(
      /big\.jsonl:1: field "user_id": the number "9007199254740992" is too large to be read exactly \(over 2\^53\); write it as a string in quotes/,
    );
    expect(
      (
        await loadError({
          events: write('twice.csv', 'user_id,item_id,type,timestamp,session,session\nu1,i1,view,1,a,b\n'),
        })
      ).message,
    ).toMatch(/twice\.csv:1: field "session": the header names this column twice \(columns 5 and 6\)/);
    // Unnamed trailing columns, as spreadsheets export them, are not names given twice.
    expect(
      (await loadDataset({ events: write('trailing.csv', 'user_id,item_id,type,timestamp,,\nu1,i1,view,1,,\n') }))
        .numEvents,
    ).toBe(1);
  });

  it('lenient mode drops a multi-line record with an undecodable line whole, and says what it skipped when nothing is left', async () => {
    const hole = Buffer.concat([
      Buffer.from(`${header.trim()},note\nu1,i1,view,1,,"a\nb`),
      Buffer.from([0xe9]),
      Buffer.from(`\nc"\nu2,i2,view,2,,ok\n`),
    ]);
    const ds = await loadDataset({ events: write('hole.csv', hole) }, { lenient: true });
    expect(ds.users.list()).toEqual(['u2']);
    expect(ds.source.skipped!.skipped).toBe(1);
    const allBad = Buffer.concat([Buffer.from(header), Buffer.from([0xff]), Buffer.from(',i1,view,1,\n')]);
    expect((await loadError({ events: write('allbad.csv', allBad) }, true)).message).toMatch(
      /no events were loaded \(--lenient skipped 1 record: 1 × invalid UTF-8/,
    );
    expect(
      (await loadError({ events: write('allbad.jsonl', Buffer.from([0x7b, 0xff, 0x7d, 0x0a])) }, true)).message,
    ).toMatch(/no events were loaded \(--lenient skipped 1 record/);
  });

  it('lenient reasons group skips by kind, never by value, and stay bounded', async () => {
    const lines = Array.from({ length: 300 }, (_, j) => `u${j},i1,view,${1_700_000_000_000 + j},`).join('\n');
    const ds = await loadDataset(
      { events: write('ms-many.csv', `${header}u1,i1,view,1,\nu2,i1,view,2,-${lines.length}\n${lines}\n`) },
      { lenient: true },
    );
    const reasons = ds.source.skipped!.byReason;
    expect(reasons).toEqual({
      'timestamp: "…" is out of range for Unix seconds (milliseconds? divide by 1000)': 300,
      'price: must be >= 0, got "…"': 1,
    });
    // A message that still varies per record would grow the report (stderr, the manifest) per line.
    const report = new SkipReport();
    for (let j = 0; j < 80; j++) report.add(new DataError('f.csv', j + 2, undefined, `fault number ${j}`));
    expect(report.byReason.size).toBe(51);
    expect(report.byReason.get('other reasons (beyond the first 50 kinds)')).toBe(30);
  });

  it('the CLI reports a data error with exit code 2 and no stack trace', () => {
    write('events.csv', `${header}u1,i1,bogus,1,\n`);
    const r = spawnSync(process.execPath, [cliPath, 'inspect', '--data', dir], {
      encoding: 'utf8',
      env: { ...process.env, VITRINE_PROGRESS: '0' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/vitrine: data error: .*events\.csv:2: field "type": unknown event type "bogus"/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    const allBad = spawnSync(process.execPath, [cliPath, 'inspect', '--data', dir, '--lenient'], {
      encoding: 'utf8',
      env: { ...process.env, VITRINE_PROGRESS: '0' },
    });
    expect(allBad.status).toBe(2);
    // Every record skipped: the error says so, and why, rather than only that nothing loaded.
    expect(allBad.stderr).toMatch(
      /no events were loaded \(--lenient skipped 1 record: 1 × type: unknown event type .*; first: .*events\.csv:2: field "type": unknown event type "bogus"/,
    );
    write('events.csv', `${header}u1,i1,bogus,1,\nu1,i1,view,1,\n`);
    const out = JSON.parse(
      execFileSync(process.execPath, [cliPath, 'inspect', '--data', dir, '--lenient', '--json'], {
        encoding: 'utf8',
        env: { ...process.env, VITRINE_PROGRESS: '0' },
      }),
    ) as { dataset: { events: number }; skipped: { skipped: number } };
    expect(out.dataset.events).toBe(1);
    expect(out.skipped.skipped).toBe(1);
  });
});
