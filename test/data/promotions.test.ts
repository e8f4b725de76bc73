import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { discountOn, netRevenue, promotionsCsv, readPromotions } from '../../src/data/promotions.js';
import { configFor } from '../../src/data/synthetic/config.js';
import { campaignCatalogue } from '../../src/data/synthetic/promotion-response.js';
import { buildWorld } from '../../src/data/synthetic/world.js';
import { tempDir } from '../helpers/paths.js';

const dir = tempDir();
const HEADER = 'id,kind,value,min_basket,segments,categories,start,end,budget,cost,code,label';
const write = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('the promotion catalogue', () => {
  it('reads every kind from CSV, with its eligibility, dates, budget and cost', async () => {
    const file = write(
      'good.csv',
      `${HEADER}
TEN,percent_off,10,,,,,,,,,
SPEND,amount_off_over,15,100,0|lapsed shoppers,,2026-11-01,2026-12-31T23:59:59Z,500,,,
SHIP,free_shipping,,30,,Shoes|Bags,,,,4.9,,Free delivery
WELCOME,coupon,15,,,,,,,,WELCOME15,
`,
    );
    const { promotions } = await readPromotions(file);
    expect(promotions.map((p) => [p.id, p.kind, p.value, p.minBasket, p.label])).toEqual([
      ['TEN', 'percent_off', 10, 0, '10% off'],
      ['SPEND', 'amount_off_over', 15, 100, '15 off when you spend 100'],
      ['SHIP', 'free_shipping', 0, 30, 'Free delivery'],
      ['WELCOME', 'coupon', 15, 0, '15% off'],
    ]);
    const spend = promotions[1];
    expect(spend.segments).toEqual(['0', 'lapsed shoppers']);
    expect([spend.start, spend.end, spend.budget]).toEqual([
      Date.UTC(2026, 10, 1) / 1000,
      Date.UTC(2026, 11, 31, 23, 59, 59) / 1000,
      500,
    ]);
    expect(promotions[2]).toMatchObject({
      categories: ['Shoes', 'Bags'],
      cost: 4.9,
      budget: Infinity,
      start: -Infinity,
    });
    expect(promotions[3].code).toBe('WELCOME15');
  });

  it('reads JSON with the same keys in camelCase, and writes CSV that reads back the same', async () => {
    const json = write(
      'good.json',
      JSON.stringify({
        promotions: [{ id: 'BIG', kind: 'amount_off_over', value: 20, minBasket: 150, categories: ['Shoes'] }],
      }),
    );
    const { promotions } = await readPromotions(json);
    expect(promotions[0]).toMatchObject({ id: 'BIG', minBasket: 150, categories: ['Shoes'] });
    const world = buildWorld(configFor('tiny', { seed: 3 }));
    const catalogue = campaignCatalogue(world);
    const back = await readPromotions(write('round-trip.csv', promotionsCsv(catalogue)));
    expect(back.promotions).toEqual(catalogue);
  });

  it.each([
    [
      'kind',
      'TEN,percentoff,10,,,,,,,,,',
      'good.csv:2: field "kind": unknown kind "percentoff" (expected one of percent_off, amount_off_over, free_shipping, coupon)',
    ],
    ['value', 'TEN,percent_off,120,,,,,,,,,', 'field "value": percent_off needs the percentage off, from 1 to 90'],
    [
      'min_basket',
      'S,amount_off_over,15,10,,,,,,,,',
      'field "min_basket": amount_off_over needs the basket value to reach, above the amount off',
    ],
    ['code', 'C,coupon,10,,,,,,,,,', 'field "code": a coupon needs the code the shopper types'],
    ['cost', 'F,free_shipping,,,,,,,,,,', 'field "cost": free_shipping needs what the shipping costs the shop'],
    ['end', 'T,percent_off,10,,,,2026-12-01,2026-11-01,,,,', 'field "end": must be after start'],
    ['start', 'T,percent_off,10,,,,next week,,,,,', 'field "start": not a Unix time in seconds or an ISO 8601 date'],
    ['budget', 'T,percent_off,10,,,,,,2.5,,,', 'field "budget": must be a whole number of redemptions'],
    ['id', 'has space,percent_off,10,,,,,,,,,', 'field "id": "has space" must be 1-64 letters, digits or . _ : -'],
  ])('names the row and field of a bad %s', async (_field, row, message) => {
    const file = write('good.csv', `${HEADER}\n${row}\n`);
    await expect(readPromotions(file)).rejects.toThrow(message);
    await expect(readPromotions(file)).rejects.toMatchObject({ code: 'data_error' });
  });

  it('refuses a repeated id, an unknown column and an unknown JSON key', async () => {
    await expect(
      readPromotions(write('dup.csv', `${HEADER}\nA,percent_off,10,,,,,,,,,\nA,percent_off,20,,,,,,,,,\n`)),
    ).rejects.toThrow('dup.csv:3: field "id": "A" is already the id of the promotion at 2');
    await expect(readPromotions(write('col.csv', 'id,kind,value,colour\nA,percent_off,10,red\n'))).rejects.toThrow(
      'field "colour": unknown column',
    );
    await expect(
      readPromotions(write('key.json', '[{"id": "A", "kind": "percent_off", "value": 10, "percentage": 5}]')),
    ).rejects.toThrow('key.json:1: field "percentage": unknown key');
  });

  it('prices a redemption: what the discount takes and what the shop keeps', () => {
    const world = buildWorld(configFor('tiny', { seed: 3 }));
    const [ten, , spend, ship] = campaignCatalogue(world);
    expect(discountOn(ten, 80)).toBe(8);
    expect([discountOn(spend, spend.minBasket - 1), discountOn(spend, spend.minBasket)]).toEqual([0, spend.value]);
    expect(netRevenue(ship, 50)).toBeCloseTo(45.1);
    expect(netRevenue(null, 50)).toBe(50);
  });
});
