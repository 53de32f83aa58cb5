import * as fs from 'fs';
import * as path from 'path';

/**
 * Directory holding a prebuilt bundle (made by `npm run bundle`, run by `prepare`).
 *
 * Works from the TypeScript sources (lib/private) and from the compiled package (dist/lib/private):
 * it walks up to the package root that holds `assets/`. Nothing is bundled at synth time.
 */
export function bundleDir(kind: 'lambda' | 'instance', name: string): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'assets', kind, name);
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(candidate)) {
      return candidate;
    }
    dir = path.dirname(dir);
  }
  throw new Error(
    `resilient-fleet: the prebuilt bundle assets/${kind}/${name} is missing. ` +
      'Run `npm run bundle` (the package\'s `prepare` script does this on `npm ci`).',
  );
}
