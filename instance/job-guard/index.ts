/**
 * job-guard command line (bundled to assets/instance/job-guard/index.mjs and installed as /usr/local/bin/job-guard).
 * Example worker loop: `while true; do job-guard --queue-url "$QUEUE_URL" -- ./process-one-job; done` (the job reads the
 * message body on stdin), or `job-guard -- ./process-one-job` around a job that receives its own message.
 */
import { readFileSync } from 'node:fs';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createLogger } from '../../lambda/shared/log';
import { USAGE, parseArgs, parseConfig } from './args';
import { EX_TEMPFAIL, releaseProtection, runGuarded } from './guard';
import { instanceIdentity } from './imds';
import { receiveAndRun } from './queue';

async function main(): Promise<number> {
  const inv = parseArgs(process.argv.slice(2));
  if (inv.kind === 'usage') {
    process.stderr.write(`${inv.error ? `job-guard: ${inv.error}\n` : ''}${USAGE}\n`);
    return inv.error ? 64 : 0;
  }
  // Logs go to stderr so the job's stdout stays its own.
  const log = createLogger('job-guard', (line) => process.stderr.write(line + '\n'));
  const config = parseConfig(readFileSync(inv.configFile, 'utf8'));
  const identity = await instanceIdentity();
  const deps = {
    client: new AutoScalingClient({ region: identity.region }),
    identity: async () => identity,
    log,
    stateDir: process.env.JOB_GUARD_STATE_DIR, // default /run/job-guard
  };
  if (inv.kind === 'release') return releaseProtection(deps);
  if (inv.queueUrl) return receiveAndRun(inv.queueUrl, inv.command, config, { ...deps, sqs: new SQSClient({ region: identity.region }) });
  return runGuarded(inv.command, config, deps);
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`job-guard: ${(err as Error).message}\n`);
    process.exit(EX_TEMPFAIL);
  },
);
