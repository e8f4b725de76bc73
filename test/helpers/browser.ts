import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/**
 * The system's Chromium (Debian's `chromium`; never a downloaded build), driven by playwright-core.
 * Pages a person looks at are checked in it; CHROMIUM_PATH points elsewhere.
 */
export async function launchBrowser(): Promise<Browser> {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(path))
    throw new Error(`no Chromium at ${path}: install it (apt-get install chromium) or set CHROMIUM_PATH`);
  return chromium.launch({ executablePath: path, args: ['--no-sandbox', '--disable-gpu'] });
}
