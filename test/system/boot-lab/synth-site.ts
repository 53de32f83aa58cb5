/**
 * Synthesizes the reference site (bin/site.ts) into a directory, in-process or as a child process of another
 * checkout (the benchmark's baseline worktree). Usage as a program: `tsx synth-site.ts <outdir>`.
 */
import { App } from 'aws-cdk-lib';
import * as path from 'path';

export function synthSite(outdir: string, root = path.join(__dirname, '..', '..', '..')): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cdkJson = require(path.join(root, 'cdk.json')) as { context: Record<string, unknown> };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cdkContext = require(path.join(root, 'cdk.context.json')) as Record<string, unknown>;
  const app = new App({ outdir, builtinCloudFormationValidation: false, context: { ...cdkJson.context, ...cdkContext } });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const site = require(path.join(root, 'bin', 'site')) as { buildReferenceSite: (app: App) => unknown };
  site.buildReferenceSite(app);
  app.synth();
  return outdir;
}

if (require.main === module) {
  synthSite(path.resolve(process.argv[2]), process.argv[3] ? path.resolve(process.argv[3]) : undefined);
}
