import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/loaders/index.js';
import { temporalSplit, summarizeSplit } from '../../src/data/split.js';
import { sharedData } from '../helpers/paths.js';

describe('MovieLens 100K loader and protocol split', async () => {
  const ds = await loadDataset(sharedData('ml-100k'));

  it('loads every rating, user, item and genre', () => {
    expect(ds.numEvents).toBe(100_000);
    expect(ds.numUsers).toBe(943);
    expect(ds.numItems).toBe(1682);
    expect(ds.itemsWithoutCatalogue).toBe(0);
    expect(ds.source.categories).toHaveLength(19);
    expect(ds.source.categories?.[0]).toBe('unknown');
    const genres = new Set(ds.itemInfo.flatMap((it) => it.attributes.filter((a) => a.startsWith('genre:'))));
    expect(genres.size).toBe(19);
  });

  it('reads ratings as rate events with their value and time', () => {
    // First line of u.data: 196 242 3 881250949
    expect(ds.users.idAt(ds.events.user[0])).toBe('196');
    expect(ds.items.idAt(ds.events.item[0])).toBe('242');
    expect(ds.events.value[0]).toBe(3);
    expect(ds.events.timestamp[0]).toBe(881250949);
    // u.data is not in time order: ratings sharing a second are a basket.
    expect(ds.source.orderedTies).toBeUndefined();
  });

  it('decodes u.item as latin-1', () => {
    expect(ds.itemInfo[ds.items.indexOf('543')].text).toBe('Misérables, Les (1995)');
    expect(ds.itemInfo[ds.items.indexOf('1633')].text).toBe('Á köldum klaka (Cold Fever) (1994)');
  });

  it("keeps users' age, gender and occupation", () => {
    const u1 = ds.userInfo[ds.users.indexOf('1')];
    expect(u1).toMatchObject({
      age: 24,
      gender: 'M',
      ageBand: '18-24',
      attributes: { occupation: 'technician', zip: '85711' },
    });
    expect(ds.userInfo.filter((u) => u?.gender === 'M')).toHaveLength(670);
    expect(ds.userInfo.filter((u) => u?.gender === 'F')).toHaveLength(273);
  });

  it('splits 80,000 train and 20,000 test over 943 test users', () => {
    const s = summarizeSplit(ds.events, temporalSplit(ds.events));
    expect(s).toMatchObject({ trainEvents: 80_000, testEvents: 20_000, testUsers: 943, trainUsers: 943 });
  });
});

describe('Amazon Beauty 5-core loader', async () => {
  const ds = await loadDataset(sharedData('amazon-beauty'));

  it('matches the published counts', () => {
    expect(ds.numEvents).toBe(198_502);
    expect(ds.numUsers).toBe(22_363);
    expect(ds.numItems).toBe(12_101);
    expect(ds.itemsWithoutCatalogue).toBe(0);
  });

  it('lines timestamps up position by position and marks purchases', () => {
    // Beauty.txt line 1: "1 1 2 3 4 5"; Beauty_time.txt line 1 starts 1318896000 1318896000 1328140800
    expect(ds.users.idAt(ds.events.user[2])).toBe('1');
    expect(ds.items.idAt(ds.events.item[2])).toBe('3');
    expect(ds.events.timestamp[2]).toBe(1328140800);
    expect(ds.events.type[0]).toBe(3);
    // Reviews of one day are listed in the order they were written: not one basket (train --baskets auto).
    expect(ds.events.timestamp[0]).toBe(ds.events.timestamp[1]);
    expect(ds.source.orderedTies).toBe(true);
  });

  it('splits every user with the protocol', () => {
    const s = summarizeSplit(ds.events, temporalSplit(ds.events));
    expect(s.trainEvents + s.testEvents).toBe(198_502);
    expect(s.testUsers).toBe(22_363);
  });
});
