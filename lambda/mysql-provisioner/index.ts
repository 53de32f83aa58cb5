/**
 * Site provisioner: a plain CloudFormation custom resource handler that creates one site's logical database and its
 * least-privilege users (never the master user for the application), with passwords taken from Secrets Manager secrets
 * that CloudFormation generated. Create, Update and Delete follow CloudFormation semantics; every plan is idempotent,
 * so a retried or repeated request is harmless. It always answers CloudFormation, also when it fails.
 */
import type { Context } from 'aws-lambda';
import { createLogger, type Logger } from '../shared/log';
import * as io from './io';
import { decide, FAILED_CREATE, type CfnRequest } from './logic';
import { redact, type GrantRow, type Statement } from './sql';

export interface CustomResourceEvent extends CfnRequest {
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly ResourceType?: string;
}

export interface Deps {
  readonly clients?: () => io.Clients;
  readonly timing?: io.Timing;
  readonly logger?: Logger;
}

/** Time kept back from Lambda's timeout to send the response. */
const RESPONSE_RESERVE_MS = 20_000;

export interface Outcome {
  readonly status: 'SUCCESS' | 'FAILED';
  readonly physicalId: string;
  readonly statements: number;
  readonly reason?: string;
}

export function createHandler(deps: Deps = {}) {
  const logger = deps.logger ?? createLogger('mysql-provisioner');
  const clientsOf = deps.clients ?? io.defaultClients;
  const timing = deps.timing ?? {};

  return async function handler(event: CustomResourceEvent, context?: Partial<Pick<Context, 'logStreamName' | 'getRemainingTimeInMillis'>>): Promise<Outcome> {
    const clients = clientsOf();
    let outcome: Outcome;
    const log = { requestType: event.RequestType, logicalId: event.LogicalResourceId, physicalId: event.PhysicalResourceId };
    // Answer FAILED before Lambda's timeout: without an answer CloudFormation waits an hour.
    let timer: NodeJS.Timeout | undefined;
    const budgetMs = context?.getRemainingTimeInMillis ? context.getRemainingTimeInMillis() - RESPONSE_RESERVE_MS : undefined;
    const outOfTime = new Promise<never>((_, reject) => {
      if (budgetMs !== undefined) timer = setTimeout(() => reject(new Error(`no result after ${Math.round(budgetMs / 1000)} s (database unreachable?)`)), Math.max(0, budgetMs));
    });
    outOfTime.catch(() => undefined);
    try {
      outcome = await Promise.race([work(), outOfTime]);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      logger.error('request failed', { ...log, error: err });
      // A failed Create keeps a marker id, so the Delete that follows the rollback knows nothing was made.
      const physicalId = event.RequestType === 'Create' ? FAILED_CREATE : event.PhysicalResourceId ?? FAILED_CREATE;
      outcome = { status: 'FAILED', physicalId, statements: 0, reason };
    } finally {
      clearTimeout(timer);
    }
    await io.sendResponse(
      clients,
      event.ResponseURL,
      {
        Status: outcome.status,
        Reason: outcome.reason ? `${outcome.reason.slice(0, 300)} (log stream ${context?.logStreamName ?? 'unknown'})` : 'OK',
        PhysicalResourceId: outcome.physicalId,
        StackId: event.StackId,
        RequestId: event.RequestId,
        LogicalResourceId: event.LogicalResourceId,
        NoEcho: false,
        Data: { Database: event.ResourceProperties?.Database ?? '' },
      },
      timing,
    );
    return outcome;

    async function work(): Promise<Outcome> {
      const decision = decide(event);
      if (decision.kind === 'nothing') {
        logger.info('nothing to do', { ...log, reason: decision.reason });
        return { status: 'SUCCESS', physicalId: decision.physicalId, statements: 0 };
      }
      const props = event.ResourceProperties;
      const master = await io.readSecret(clients, props.MasterSecretArn, timing);
      let users: readonly string[] = [];
      let build: (current: GrantRow[]) => Statement[];
      if (decision.kind === 'provision') {
        // The whole secret: after an alternating-users rotation its username is the clone's, which gets the password.
        const secrets: Record<string, io.SecretValue> = {};
        for (const arn of decision.secrets) secrets[arn] = await io.readSecret(clients, arn, timing);
        users = decision.users;
        build = (current) => decision.plan(secrets, current);
      } else {
        build = () => decision.plan;
      }
      const host = await clients.endpointOf(props.Host, props.FallbackHost);
      const statements = await clients.runPlan(
        { host, port: Number(props.Port), user: master.username ?? 'admin', password: master.password, tls: String(props.RequireTls ?? 'true') === 'true' },
        users,
        (current) => {
          const plan = build(current);
          logger.info('running plan', { ...log, host, statements: plan.map(redact) });
          return plan;
        },
      );
      return { status: 'SUCCESS', physicalId: decision.physicalId, statements };
    }
  };
}

export const handler = createHandler();
