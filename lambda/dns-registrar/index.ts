/**
 * DnsRegistrar hook: keeps one Route 53 A record set equal to the in-service instances of one Auto Scaling group.
 *
 * Events (EventBridge): the group's launch and termination lifecycle actions (this registrar's own hooks only),
 * "EC2 Instance Launch Successful" / "EC2 Instance Terminate Successful", and a scheduled sweep. Each one recomputes
 * the whole record from the group (io), decides the change (logic), and applies it (io); a duplicate event finds
 * nothing to change.
 */
import type { Context } from 'aws-lambda';
import { createLogger, type Logger } from '../shared/log';
import { backoffDelay, realSleep } from '../shared/retry';
import * as io from './io';
import { completeNow, desiredValues, planChange, servingInstanceIds, type RegistrarConfig, type Trigger } from './logic';

export interface HandlerConfig extends RegistrarConfig {
  readonly groupName: string;
  readonly zoneId: string;
  readonly recordName: string;
  readonly addressKind: 'private' | 'public';
  readonly launchHookName?: string;
  readonly terminateHookName?: string;
  readonly drainSeconds: number;
}

export interface Deps {
  readonly clients?: () => io.Clients;
  readonly config?: () => HandlerConfig;
  readonly timing?: io.Timing;
  readonly logger?: Logger;
}

/** What the handler did, for tests and logs. */
export interface Outcome {
  readonly trigger: Trigger['kind'] | 'ignored';
  readonly change: 'NONE' | 'CREATE' | 'REPLACE' | 'DELETE' | 'SKIPPED';
  readonly values?: readonly string[];
  readonly completed?: boolean;
  readonly reason?: string;
}

interface ParsedEvent {
  readonly trigger: Trigger;
  readonly groupName?: string;
  readonly hookName?: string;
  readonly token?: string;
}

/** Reads the configuration the construct puts in the environment; throws naming the missing variable. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): HandlerConfig {
  const need = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`dns-registrar: environment variable ${name} is not set`);
    return value;
  };
  const ttl = Number(need('RECORD_TTL'));
  const drainSeconds = Number(env.DRAIN_SECONDS ?? '0');
  if (!Number.isInteger(ttl) || ttl < 0) throw new Error(`dns-registrar: RECORD_TTL must be a whole number of seconds, got ${env.RECORD_TTL}`);
  return {
    groupName: need('GROUP_NAME'),
    zoneId: need('HOSTED_ZONE_ID').replace(/^\/?hostedzone\//, ''),
    recordName: need('RECORD_NAME'),
    ttl,
    singleHost: env.SINGLE_HOST === 'true',
    includePending: env.REGISTER_BEFORE_IN_SERVICE === 'true',
    addressKind: env.ADDRESS_KIND === 'public' ? 'public' : 'private',
    launchHookName: env.LAUNCH_HOOK_NAME || undefined,
    terminateHookName: env.TERMINATE_HOOK_NAME || undefined,
    drainSeconds: Number.isFinite(drainSeconds) ? drainSeconds : 0,
  };
}

/** Turns an EventBridge event into a trigger; undefined for anything this registrar does not handle. */
export function parseEvent(event: unknown): ParsedEvent | undefined {
  if (!event || typeof event !== 'object') return undefined;
  const e = event as { source?: string; 'detail-type'?: string; detail?: Record<string, unknown> };
  const detail = e.detail ?? {};
  const instanceId = typeof detail.EC2InstanceId === 'string' ? detail.EC2InstanceId : undefined;
  const groupName = typeof detail.AutoScalingGroupName === 'string' ? detail.AutoScalingGroupName : undefined;
  const hookName = typeof detail.LifecycleHookName === 'string' ? detail.LifecycleHookName : undefined;
  const token = typeof detail.LifecycleActionToken === 'string' ? detail.LifecycleActionToken : undefined;
  if (e.source === 'aws.events' && e['detail-type'] === 'Scheduled Event') return { trigger: { kind: 'sweep' } };
  if (e.source !== 'aws.autoscaling' || !instanceId || !/^i-[0-9a-f]+$/.test(instanceId)) return undefined;
  switch (e['detail-type']) {
    case 'EC2 Instance-launch Lifecycle Action':
      // A warm pool's instances are not serving yet.
      if (detail.Destination === 'WarmPool') return undefined;
      return { trigger: { kind: 'launching', instanceId }, groupName, hookName, token };
    case 'EC2 Instance Launch Successful':
      return { trigger: { kind: 'launched', instanceId }, groupName };
    case 'EC2 Instance-terminate Lifecycle Action':
      return { trigger: { kind: 'terminating', instanceId }, groupName, hookName, token };
    case 'EC2 Instance Terminate Successful':
      return { trigger: { kind: 'terminated', instanceId }, groupName };
    default:
      return undefined;
  }
}

/** Compare-and-swap rounds before giving up (EventBridge then retries the event; the sweep repairs regardless). */
const MAX_RECONCILE_ROUNDS = 6;

export function createHandler(deps: Deps = {}) {
  const logger = deps.logger ?? createLogger('dns-registrar');
  const clientsOf = deps.clients ?? io.defaultClients;
  const configOf = deps.config ?? (() => configFromEnv());
  const timing = deps.timing ?? {};

  return async function handler(event: unknown, _context?: Context): Promise<Outcome> {
    const config = configOf();
    const parsed = parseEvent(event);
    if (!parsed) {
      logger.warn('ignored an event this registrar does not handle', { detailType: (event as { 'detail-type'?: string })?.['detail-type'] });
      return { trigger: 'ignored', change: 'SKIPPED', reason: 'unhandled event' };
    }
    const { trigger } = parsed;
    if (parsed.groupName !== undefined && parsed.groupName !== config.groupName) {
      return { trigger: 'ignored', change: 'SKIPPED', reason: `event for group ${parsed.groupName}` };
    }
    const ownHook = trigger.kind === 'launching' ? config.launchHookName : trigger.kind === 'terminating' ? config.terminateHookName : undefined;
    if ((trigger.kind === 'launching' || trigger.kind === 'terminating') && (!ownHook || parsed.hookName !== ownHook)) {
      // Another construct's hook (for example a launch-loop guard): not ours to complete.
      return { trigger: 'ignored', change: 'SKIPPED', reason: `lifecycle hook ${parsed.hookName} is not this registrar's` };
    }
    const clients = clientsOf();
    const log = { trigger: trigger.kind, instanceId: 'instanceId' in trigger ? trigger.instanceId : undefined, record: config.recordName };

    // One round: read the record, then the group (in that order: a concurrent writer that changed the record after our
    // read also makes our compare-and-swap fail, and our next read of the group is at least as new as its own), decide,
    // and write atomically. A conflict means someone else wrote in between: read both again.
    let outcome: Outcome = { trigger: trigger.kind, change: 'SKIPPED', reason: 'group not found' };
    for (let round = 1; ; round++) {
      const current = await io.readRecord(clients, config.zoneId, config.recordName, timing);
      const members = await io.describeGroup(clients, config.groupName, timing);
      if (!members) {
        // A missing group (deleted, or a wrong name) must never empty a name that something may still serve.
        logger.warn('group not found; record left as it is', { ...log, group: config.groupName });
        break;
      }
      const serving = servingInstanceIds(members, trigger, config);
      const addresses = await io.instanceAddresses(clients, serving, config.addressKind, timing);
      const desired = desiredValues(serving, addresses, current, config.singleHost);
      const change = planChange(current, desired, config.ttl);
      try {
        await io.applyChange(clients, config.zoneId, config.recordName, change, timing);
        outcome = { trigger: trigger.kind, change: change.action, values: change.action === 'NONE' ? current?.values ?? [] : change.values };
        logger.info(change.action === 'NONE' ? 'record already right' : 'record changed', { ...log, change: change.action, values: outcome.values, serving });
        break;
      } catch (err) {
        if (!(err instanceof io.RecordChangedError) || round >= MAX_RECONCILE_ROUNDS) throw err;
        logger.warn('record changed by someone else since we read it; reading again', { ...log, round });
        await (timing.sleep ?? realSleep)(backoffDelay(round, 100, 2_000, timing.random ?? Math.random));
      }
    }

    if ((trigger.kind === 'launching' || trigger.kind === 'terminating') && completeNow(trigger, config.drainSeconds)) {
      const completed = await io.completeLifecycleAction(
        clients,
        { groupName: config.groupName, hookName: ownHook!, instanceId: trigger.instanceId, token: parsed.token },
        timing,
      );
      logger.info(completed ? 'lifecycle action completed' : 'lifecycle action was no longer active', log);
      return { ...outcome, completed };
    }
    if (trigger.kind === 'terminating') {
      logger.info('leaving the instance in Terminating:Wait until cached answers expire', { ...log, drainSeconds: config.drainSeconds });
    }
    return outcome;
  };
}

export const handler = createHandler();
