/**
 * worker-drain: runs on "EC2 Instance-terminate Lifecycle Action" events of a QueueWorkerFleet's group.
 * Lets idle workers terminate at once and leaves busy ones to job-guard (see logic.ts).
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { createLogger, type Logger } from '../shared/log';
import { autoScalingClient, continueTermination, describeWorker, type IoRetryOptions } from './io';
import { decide, parseTerminateEvent, type DrainDecision } from './logic';

export interface DrainDeps {
  readonly client: AutoScalingClient;
  readonly log: Logger;
  readonly retry?: IoRetryOptions;
}

export type DrainResult = DrainDecision & { readonly instanceId: string; readonly completed?: 'completed' | 'already-done' };

export function makeHandler(deps: () => DrainDeps) {
  return async (event: unknown): Promise<DrainResult> => {
    const { client, log, retry } = deps();
    const action = parseTerminateEvent(event);
    const worker = await describeWorker(client, action.instanceId, retry);
    const decision = decide(action, worker);
    if (decision.action !== 'continue') {
      log.info('not completing the lifecycle action', { instanceId: action.instanceId, ...decision });
      return { ...decision, instanceId: action.instanceId };
    }
    const completed = await continueTermination(client, action, retry);
    log.info('termination continues', { instanceId: action.instanceId, completed, reason: decision.reason });
    return { ...decision, instanceId: action.instanceId, completed };
  };
}

const log = createLogger('worker-drain');
export const handler = makeHandler(() => ({ client: autoScalingClient(), log }));
