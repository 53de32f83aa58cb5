/** Command line of job-guard. Pure. */

export const USAGE = `usage: job-guard [--config <file>] [--queue-url <url>] -- <command> [args...]
       job-guard [--config <file>] --release

Runs one job with this instance protected from scale-in, then clears the protection (also when the job fails)
and exits with the job's exit code (128 + signal number when the job was killed by a signal).
If the instance is already terminating, the job is not started and job-guard exits ${75} (EX_TEMPFAIL): leave the
message in the queue for another worker. --release clears protection left over by a job-guard that was killed.
With --queue-url, job-guard first receives one message (unprotected, long poll), then runs the command for it with
the body on stdin (JOB_MESSAGE_ID, JOB_RECEIPT_HANDLE in the environment); exit 0 deletes the message; an empty
queue exits 0 without running the command.`;

export const DEFAULT_CONFIG_FILE = '/etc/job-guard.json';

export type Invocation =
  | { readonly kind: 'run'; readonly configFile: string; readonly command: string[]; readonly queueUrl?: string }
  | { readonly kind: 'release'; readonly configFile: string }
  | { readonly kind: 'usage'; readonly error?: string };

export function parseArgs(argv: readonly string[]): Invocation {
  let configFile = DEFAULT_CONFIG_FILE;
  let release = false;
  let queueUrl: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      const command = argv.slice(i + 1);
      if (release) return { kind: 'usage', error: '--release takes no command' };
      if (command.length === 0) return { kind: 'usage', error: 'no command after --' };
      return queueUrl === undefined ? { kind: 'run', configFile, command: [...command] } : { kind: 'run', configFile, command: [...command], queueUrl };
    }
    if (a === '--config') {
      const v = argv[++i];
      if (!v) return { kind: 'usage', error: '--config needs a file' };
      configFile = v;
    } else if (a === '--queue-url') {
      const v = argv[++i];
      if (!v || !/^https:\/\/\S+$/.test(v)) return { kind: 'usage', error: '--queue-url needs the queue\'s https URL' };
      queueUrl = v;
    } else if (a === '--release') {
      release = true;
    } else if (a === '-h' || a === '--help') {
      return { kind: 'usage' };
    } else {
      return { kind: 'usage', error: `unknown argument ${JSON.stringify(a)} (put the command after --)` };
    }
  }
  return release ? { kind: 'release', configFile } : { kind: 'usage', error: 'no command after --' };
}

/** What the construct writes to /etc/job-guard.json. */
export interface GuardConfig {
  /** Name of the group's terminate lifecycle hook. */
  readonly lifecycleHookName: string;
  /** How often a running job checks whether its instance waits to terminate, and records a heartbeat if so. */
  readonly heartbeatIntervalSeconds: number;
  /** The longest a running job may hold a terminating instance (then heartbeats stop and termination continues). */
  readonly maxTerminationWaitSeconds: number;
}

export function parseConfig(text: string): GuardConfig {
  const raw = JSON.parse(text) as Record<string, unknown>;
  const name = raw.lifecycleHookName;
  const hb = raw.heartbeatIntervalSeconds;
  const max = raw.maxTerminationWaitSeconds;
  if (typeof name !== 'string' || name.length === 0) throw new Error('config: lifecycleHookName must be a non-empty string');
  if (typeof hb !== 'number' || !(hb > 0)) throw new Error('config: heartbeatIntervalSeconds must be a positive number');
  if (typeof max !== 'number' || !(max >= 0)) throw new Error('config: maxTerminationWaitSeconds must be a number >= 0');
  return { lifecycleHookName: name, heartbeatIntervalSeconds: hb, maxTerminationWaitSeconds: max };
}
