// The synthetic shop's shoppers in front of a running Vitrine: each visit asks for recommendations,
// and the shopper clicks and buys by their hidden tastes (the synthetic world's truth, which no model
// sees), sending the events back. Point it at a server running an experiment and read the report.
//
//   npx vitrine serve --bundle models/demo --clock bundle --admin-token t --experiments examples/experiments.json
//   node examples/synthetic-shoppers.mjs ws://127.0.0.1:8080/ws synthetic:medium 42 3000
//   npx vitrine experiments report --url http://127.0.0.1:8080 --token t
//
// Arguments: the server, the shop the bundle was trained on and its seed (npm start's: synthetic:medium,
// 42), and the number of visits.
import { VitrineClient } from 'vitrine/client';
import { parseSyntheticSpec } from '../dist/data/resolve.js';
import { configFor } from '../dist/data/synthetic/config.js';
import { recommendationResponse } from '../dist/data/synthetic/recommendation-response.js';
import { buildWorld } from '../dist/data/synthetic/world.js';
import { Rng } from '../dist/util/rng.js';

const [url = 'ws://127.0.0.1:8080/ws', shop = 'synthetic:medium', seed = '42', visits = '3000'] = process.argv.slice(2);
const spec = parseSyntheticSpec(shop, Number(seed));
if (!spec) throw new Error(`not a synthetic shop: ${shop} (synthetic:tiny|small|medium|large)`);
const world = buildWorld(configFor(spec.size, { seed: spec.seed }));
const truth = recommendationResponse(world);
const rng = new Rng(Number(seed) + 1);
const vitrine = await VitrineClient.connect(url, { timeoutMs: 2000 });

let clicks = 0;
let purchases = 0;
// A few visits at a time: shoppers come and go while others browse.
const visitors = Array.from({ length: 8 }, async (_, lane) => {
  for (let v = lane; v < Number(visits); v += 8) {
    const shopper = rng.int(world.users.length);
    const user = world.users[shopper].id;
    const { items } = await vitrine.recommend({ user, k: 10, explain: false });
    for (const [position, { id }] of items.entries()) {
      if (rng.next() >= truth.click(shopper, id, position)) continue;
      clicks++;
      await vitrine.event({ user, item: id, type: 'click' });
      if (rng.next() < truth.purchaseAfterClick) {
        purchases++;
        await vitrine.event({ user, item: id, type: 'purchase', price: truth.price(id) });
      }
    }
  }
});
await Promise.all(visitors);
await vitrine.close();
console.log(`${visits} visits: ${clicks} clicks, ${purchases} purchases sent to ${url}`);
