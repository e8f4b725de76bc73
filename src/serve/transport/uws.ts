import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as UWS from 'uWebSockets.js';
import { VitrineError } from '../../protocol/errors.js';

export type { UWS };

const require = createRequire(import.meta.url);

/**
 * Loads the native uWebSockets.js binary directly. The package we install (uWS v20.30, republished
 * as @trufflesuite/uws-js-unofficial) silently falls back to a slow pure-JS server when its binary
 * does not match the Node ABI; we would rather stop and say what to install.
 */
export function loadUws(): typeof UWS {
  const pkgDir = dirname(require.resolve('uWebSockets.js/package.json'));
  const binary = join(pkgDir, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  if (!existsSync(binary)) {
    throw new VitrineError(
      'unavailable',
      `uWebSockets.js has no native binary for Node ${process.version} (ABI ${process.versions.modules}, ${process.platform}-${process.arch}). ` +
        'Vitrine installs uWS v20.30 built for Node 20; on Node 22 or later (glibc >= 2.38) install @btc-vision/uwebsockets.js under the name uWebSockets.js instead: ' +
        'npm install uWebSockets.js@npm:@btc-vision/uwebsockets.js',
    );
  }
  return require(binary) as typeof UWS;
}
