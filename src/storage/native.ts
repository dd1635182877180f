// Loads the addon that `npm install` builds from native/napi (see package.json).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Binding from '../../native/binding.js';

function addonPath(): string {
  // src/storage (tests) and dist/src/storage (built) sit at different depths.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    dir = dirname(dir);
    const candidate = join(dir, 'native', 'fjord.node');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('fjord: native addon native/fjord.node not found; run `npm install` (or `npm run build:native`)');
}

export const native: typeof Binding = createRequire(import.meta.url)(addonPath()) as typeof Binding;
