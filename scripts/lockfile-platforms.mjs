#!/usr/bin/env node
// The npm registry mirror this project installs from lacks some platform-specific optional packages
// (e.g. @msgpackr-extract/msgpackr-extract-darwin-arm64). `npm install` tolerates that but leaves them
// out of package-lock.json, and `npm ci` then refuses the lock as out of sync. This adds a lock entry,
// marked optional with the platform its name states, for every such missing optional dependency;
// npm never fetches those on other platforms. Run it after any `npm install` that rewrites the lock.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const pkgs = lock.packages;
const platform = /-(darwin|linux|win32|freebsd|android|openbsd|sunos|aix)-(x64|arm64|arm|ia32|ppc64|s390x|riscv64)$/;
let added = 0;
for (const [key, meta] of Object.entries(pkgs)) {
  for (const [dep, range] of Object.entries(meta.optionalDependencies ?? {})) {
    const where = key === '' ? `node_modules/${dep}` : `${key}/node_modules/${dep}`;
    if (pkgs[where] || pkgs[`node_modules/${dep}`]) continue;
    const m = platform.exec(dep);
    if (!m) {
      console.warn(`skipping ${dep}: missing from the lock but its name states no platform`);
      continue;
    }
    pkgs[`node_modules/${dep}`] = {
      version: range.replace(/^[\^~]/, ''),
      cpu: [m[2]],
      license: meta.license ?? 'MIT',
      optional: true,
      os: [m[1]],
    };
    added++;
  }
}
const sorted = Object.fromEntries(
  Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)),
);
lock.packages = sorted;
writeFileSync(path, JSON.stringify(lock, null, 2) + '\n');
console.log(`package-lock.json: added ${added} missing platform entries`);
