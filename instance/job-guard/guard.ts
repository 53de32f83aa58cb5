/**
 * job-guard: runs one job with its instance protected from scale-in.
 *
 * Order: read the instance id (IMDSv2, empty answers retried) -> ask the group about this instance (the group, not
 * DescribeInstances, is the source of truth) -> SetInstanceProtection(true) -> ask again (a scale-in may have picked
 * this instance a moment before protection landed: then the job is not started) -> run the job, recording lifecycle
 * heartbeats if the instance is told to terminate meanwhile -> SetInstanceProtection(false), also when the job
 * failed -> if the instance waits to terminate, complete the lifecycle action so termination goes on at once.
 * The exit code is the job's.
 */
import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetInstanceProtectionCommand,
} from '@aws-sdk/client-auto-scaling';
import { errorName, isTransient, isTransientAfterCreate } from '../../lambda/shared/errors';
import type { Logger } from '../../lambda/shared/log';
import { retry, type RetryOptions } from '../../lambda/shared/retry';
import type { GuardConfig } from './args';
import type { InstanceIdentity } from './imds';

/** sysexits.h EX_TEMPFAIL: the job was not started; try again later (another worker will take the message). */
export const EX_TEMPFAIL = 75;
/** The shell's "command not found". */
export const EX_NOTFOUND = 127;

export interface GuardDeps {
  readonly client: AutoScalingClient;
  readonly identity: () => Promise<InstanceIdentity>;
  readonly log: Logger;
  /** Retry options for Auto Scaling calls (tests inject a fast sleep). */
  readonly retry?: Partial<Omit<RetryOptions, 'retryable'>>;
  readonly now?: () => number;
  /** Starts the job. @default child_process.spawn; stdio inherited, or stdin piped when the job has input */
  readonly spawn?: (command: string[], job: JobInput) => ChildProcess;
  /**
   * Where running job-guards register (one file each), so that with several jobs per worker the last one to finish
   * clears protection, not the first. @default '/run/job-guard'
   */
  readonly stateDir?: string;
}

export const DEFAULT_STATE_DIR = '/run/job-guard';

/** What the job gets besides its command line: a message body on stdin and variables (with --queue-url). */
export interface JobInput {
  readonly stdin?: string;
  readonly env?: Record<string, string>;
}

/** How a guarded run ended: the exit code, and whether the job was started at all. */
export interface GuardedRun {
  readonly code: number;
  readonly started: boolean;
}

export function defaultSpawn(command: string[], job: JobInput): ChildProcess {
  const child = nodeSpawn(command[0], command.slice(1), {
    stdio: [job.stdin === undefined ? 'inherit' : 'pipe', 'inherit', 'inherit'],
    env: { ...process.env, ...job.env },
  });
  if (job.stdin !== undefined) {
    child.stdin?.on('error', () => {}); // a job that does not read its input is not an error
    child.stdin?.end(job.stdin);
  }
  return child;
}
let sequence = 0;

/** This job-guard's registration: a file named <pid>.<n> in the state directory. */
class Registration {
  private readonly dir: string;
  private readonly name: string;
  constructor(dir: string) {
    this.dir = dir;
    this.name = `${process.pid}.${++sequence}`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, this.name), '');
  }
  remove(): void {
    rmSync(join(this.dir, this.name), { force: true });
  }
  /** Other job-guards whose process is alive (stale files of dead ones are removed). */
  others(): string[] {
    return liveRegistrations(this.dir).filter((n) => n !== this.name);
  }
}

function liveRegistrations(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((name) => {
    const pid = Number(name.split('.')[0]);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) return true;
    rmSync(join(dir, name), { force: true });
    return false;
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Self {
  readonly instanceId: string;
  readonly groupName: string;
  readonly lifecycleState: string;
  readonly protectedFromScaleIn: boolean;
}

class NotInGroupYet extends Error {
  constructor(instanceId: string) {
    super(`the Auto Scaling group does not list ${instanceId} (yet)`);
    this.name = 'InstanceNotInGroup.NotFound';
  }
}

function retryOpts(deps: GuardDeps, deadlineMs: number): RetryOptions {
  return { deadlineMs, baseDelayMs: 200, maxDelayMs: 5_000, ...deps.retry, retryable: isTransient };
}

async function describeSelf(deps: GuardDeps, instanceId: string): Promise<Self> {
  return retry(async () => {
    const out = await deps.client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
    const me = (out.AutoScalingInstances ?? []).find((i) => i.InstanceId === instanceId);
    if (!me?.AutoScalingGroupName) throw new NotInGroupYet(instanceId);
    return {
      instanceId,
      groupName: me.AutoScalingGroupName,
      lifecycleState: me.LifecycleState ?? 'Unknown',
      protectedFromScaleIn: me.ProtectedFromScaleIn === true,
    };
    // The first call after boot: the instance role's grant may still be propagating (AccessDenied), retried too.
  }, { ...retryOpts(deps, 60_000), retryable: isTransientAfterCreate });
}

async function setProtection(deps: GuardDeps, self: Self, on: boolean, deadlineMs: number): Promise<void> {
  await retry(
    () =>
      deps.client.send(
        new SetInstanceProtectionCommand({ AutoScalingGroupName: self.groupName, InstanceIds: [self.instanceId], ProtectedFromScaleIn: on }),
      ),
    retryOpts(deps, deadlineMs),
  );
}

/** Completes a waiting terminate lifecycle action; "no active action" (someone else did) is fine. */
async function continueTermination(deps: GuardDeps, self: Self, config: GuardConfig): Promise<void> {
  try {
    await retry(
      () =>
        deps.client.send(
          new CompleteLifecycleActionCommand({
            AutoScalingGroupName: self.groupName,
            LifecycleHookName: config.lifecycleHookName,
            InstanceId: self.instanceId,
            LifecycleActionResult: 'CONTINUE',
          }),
        ),
      retryOpts(deps, 60_000),
    );
    deps.log.info('completed the terminate lifecycle action', { instanceId: self.instanceId });
  } catch (err) {
    if (errorName(err) === 'ValidationError') {
      deps.log.info('no terminate lifecycle action to complete', { instanceId: self.instanceId, error: err });
      return;
    }
    deps.log.error('could not complete the terminate lifecycle action; the hook times out and termination continues', { error: err });
  }
}

const isTerminating = (state: string) => state.startsWith('Terminating');

/** Releases a worker that may not start a job, letting a pending termination continue. */
async function standDown(deps: GuardDeps, self: Self, config: GuardConfig, reason: string): Promise<number> {
  deps.log.warn('not starting the job', { instanceId: self.instanceId, lifecycleState: self.lifecycleState, reason });
  if (self.lifecycleState === 'Terminating:Wait') await continueTermination(deps, self, config);
  return EX_TEMPFAIL;
}

/** Runs `command` protected from scale-in and returns its exit code (or EX_TEMPFAIL when it was not started). */
export async function runGuarded(command: string[], config: GuardConfig, deps: GuardDeps): Promise<number> {
  return (await guardedRun(command, config, deps, {})).code;
}

/** runGuarded, telling also whether the job started (a stand-down returns EX_TEMPFAIL without starting it). */
export async function guardedRun(command: string[], config: GuardConfig, deps: GuardDeps, job: JobInput): Promise<GuardedRun> {
  const notStarted = (code: number): GuardedRun => ({ code, started: false });
  const now = deps.now ?? Date.now;
  const { instanceId } = await deps.identity();
  let self: Self;
  try {
    self = await describeSelf(deps, instanceId);
  } catch (err) {
    deps.log.error('cannot find this instance in its Auto Scaling group', { instanceId, error: err });
    return notStarted(EX_TEMPFAIL);
  }
  if (self.lifecycleState !== 'InService') return notStarted(await standDown(deps, self, config, 'the instance is not InService'));

  // Register first, protect second: a job-guard finishing at the same moment then sees this one and keeps protection.
  const registration = new Registration(deps.stateDir ?? DEFAULT_STATE_DIR);
  try {
    await setProtection(deps, self, true, 60_000);
  } catch (err) {
    // Fail closed: a job that cannot be protected could be killed by any scale-in.
    registration.remove();
    deps.log.error('could not protect this instance from scale-in', { instanceId, error: err });
    const now2 = await describeSelf(deps, instanceId).catch(() => self);
    return notStarted(await standDown(deps, now2, config, 'scale-in protection could not be set'));
  }
  deps.log.info('protected from scale-in', { instanceId, groupName: self.groupName });

  // A scale-in may have chosen this instance just before protection landed.
  const checked = await describeSelf(deps, instanceId).catch(() => self);
  if (isTerminating(checked.lifecycleState)) {
    await release(deps, self, registration);
    return notStarted(await standDown(deps, checked, config, 'the group began terminating this instance before protection was set'));
  }

  let code: number;
  try {
    code = await runChild(command, job, config, self, deps, now);
  } finally {
    await release(deps, self, registration);
  }
  const after = await describeSelf(deps, instanceId).catch(() => undefined);
  if (after?.lifecycleState === 'Terminating:Wait') await continueTermination(deps, after, config);
  return { code, started: true };
}

/**
 * Ends this job-guard's claim: clears protection unless another job on this instance still runs. If another one
 * registered while protection was being cleared, protection is set again, so the last word is "protected".
 */
async function release(deps: GuardDeps, self: Self, registration: Registration): Promise<void> {
  registration.remove();
  if (registration.others().length > 0) {
    deps.log.info('another job still runs on this instance: protection stays', { instanceId: self.instanceId });
    return;
  }
  await clearProtection(deps, self);
  if (registration.others().length > 0) {
    deps.log.info('another job started meanwhile: protecting again', { instanceId: self.instanceId });
    await setProtection(deps, self, true, 60_000).catch((err) => deps.log.error('could not protect again', { error: err }));
  }
}

async function clearProtection(deps: GuardDeps, self: Self): Promise<void> {
  try {
    // Long deadline: an instance left protected is never scaled in.
    await setProtection(deps, self, false, 5 * 60_000);
    deps.log.info('scale-in protection cleared', { instanceId: self.instanceId });
  } catch (err) {
    if (errorName(err) === 'ValidationError') {
      // A terminating instance's protection no longer matters.
      deps.log.info('protection not cleared: the instance is leaving the group', { instanceId: self.instanceId, error: err });
      return;
    }
    deps.log.error('could not clear scale-in protection; run `job-guard --release`', { instanceId: self.instanceId, error: err });
  }
}

/** Clears protection left by a job-guard that was killed (for ExecStopPost or boot). */
export async function releaseProtection(deps: GuardDeps): Promise<number> {
  const { instanceId } = await deps.identity();
  const self = await describeSelf(deps, instanceId);
  if (!self.protectedFromScaleIn) return 0;
  if (liveRegistrations(deps.stateDir ?? DEFAULT_STATE_DIR).length > 0) {
    deps.log.info('a job-guard is running a job: protection stays', { instanceId });
    return 0;
  }
  await clearProtection(deps, self);
  return 0;
}

function runChild(command: string[], job: JobInput, config: GuardConfig, self: Self, deps: GuardDeps, now: () => number): Promise<number> {
  const spawn = deps.spawn ?? defaultSpawn;
  return new Promise<number>((resolve) => {
    let done = false;
    const child = spawn(command, job);
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const handlers = (['SIGTERM', 'SIGINT', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);
    const finish = (code: number) => {
      if (done) return;
      done = true;
      for (const [s, h] of handlers) process.off(s, h);
      clearTimeout(timer);
      resolve(code);
    };
    child.on('error', (err) => {
      deps.log.error('could not start the job', { command: command[0], error: err });
      finish(EX_NOTFOUND);
    });
    child.on('exit', (code, signal) => finish(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));

    // While the job runs: if the group wants this instance gone (a termination that is not a scale-in, such as a
    // health replacement, an instance refresh or a Spot rebalance), keep the lifecycle hook waiting by recording
    // heartbeats, up to maxTerminationWaitSeconds after the wait began.
    let terminatingSince: number | undefined;
    let timer: NodeJS.Timeout;
    const tick = async () => {
      if (done) return;
      try {
        const state = await describeSelf(deps, self.instanceId);
        if (!done && state.lifecycleState === 'Terminating:Wait') {
          terminatingSince ??= now();
          if (now() - terminatingSince < config.maxTerminationWaitSeconds * 1000) {
            await deps.client.send(
              new RecordLifecycleActionHeartbeatCommand({
                AutoScalingGroupName: self.groupName,
                LifecycleHookName: config.lifecycleHookName,
                InstanceId: self.instanceId,
              }),
            );
            deps.log.info('instance waits to terminate: heartbeat recorded while the job runs', { instanceId: self.instanceId });
          } else {
            deps.log.warn('termination wait limit reached: no more heartbeats, the job may be cut short', { instanceId: self.instanceId });
          }
        }
      } catch (err) {
        deps.log.warn('heartbeat check failed', { error: err });
      }
      if (!done) timer = setTimeout(tick, config.heartbeatIntervalSeconds * 1000);
    };
    timer = setTimeout(tick, config.heartbeatIntervalSeconds * 1000);
  });
}

