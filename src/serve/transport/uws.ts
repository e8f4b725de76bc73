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

const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

/**
 * Listens on host:port exclusively: uWS otherwise sets SO_REUSEPORT, and a second server started on
 * a busy port would quietly share its traffic (an old version still running beside the new one).
 */
export function listenExclusive(
  uws: typeof UWS,
  app: UWS.TemplatedApp,
  host: string,
  port: number,
): Promise<{ port: number; socket: UWS.us_listen_socket }> {
  return new Promise((resolve, reject) => {
    // The typings lack the (host, port, options, cb) form the native binding takes.
    type Listen = (
      host: string,
      port: number,
      options: number,
      cb: (socket: UWS.us_listen_socket | false) => void,
    ) => void;
    const listen = app.listen.bind(app) as unknown as Listen;
    listen(host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
      if (!socket)
        return reject(
          new VitrineError(
            'invalid_argument',
            `cannot listen on ${host}:${port} (the port is in use, or the address is not this machine's; see --port and --host)`,
          ),
        );
      resolve({ port: uws.us_socket_local_port(socket as unknown as UWS.us_socket), socket });
    });
  });
}
