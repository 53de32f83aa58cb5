/**
 * job-guard --queue-url: receive one message first (unprotected: an idle worker waiting on an empty queue must stay
 * free to be scaled in), then run the job for it under protection. The body goes to the job's stdin, the ids to
 * JOB_MESSAGE_ID and JOB_RECEIPT_HANDLE. Exit 0 deletes the message; a job that was not started (the instance is
 * terminating) hands the message back at once; any other failure leaves it to come back after its visibility timeout
 * (and to the dead-letter queue after maxReceiveCount).
 */
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { isNotFound, isTransient } from '../../lambda/shared/errors';
import { retry } from '../../lambda/shared/retry';
import type { GuardConfig } from './args';
import { guardedRun, type GuardDeps } from './guard';

export interface QueueDeps extends GuardDeps {
  readonly sqs: SQSClient;
  /** Long-poll wait of ReceiveMessage. @default 20 */
  readonly waitTimeSeconds?: number;
}

/** Receives at most one message and runs `command` for it; returns the job's exit code (0 when the queue was empty). */
export async function receiveAndRun(queueUrl: string, command: string[], config: GuardConfig, deps: QueueDeps): Promise<number> {
  // A queue that does not exist (QueueDoesNotExist) is a wrong configuration: not retried like throttling or a 5xx.
  const opts = { deadlineMs: 60_000, baseDelayMs: 200, maxDelayMs: 5_000, ...deps.retry, retryable: (e: unknown) => isTransient(e) && !isNotFound(e) };
  const out = await retry(
    () => deps.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: deps.waitTimeSeconds ?? 20 })),
    opts,
  );
  const message = out.Messages?.[0];
  if (!message?.ReceiptHandle) return 0;
  const receipt = message.ReceiptHandle;
  deps.log.info('received a message', { messageId: message.MessageId });

  const run = await guardedRun(command, config, deps, {
    stdin: message.Body ?? '',
    env: { JOB_MESSAGE_ID: message.MessageId ?? '', JOB_RECEIPT_HANDLE: receipt, QUEUE_URL: queueUrl },
  });
  try {
    if (run.started && run.code === 0) {
      await retry(() => deps.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receipt })), opts);
      deps.log.info('job done, message deleted', { messageId: message.MessageId });
    } else if (!run.started) {
      await retry(() => deps.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receipt, VisibilityTimeout: 0 })), opts);
      deps.log.info('job not started: message handed back to the queue', { messageId: message.MessageId });
    } else {
      deps.log.warn('job failed: the message comes back after its visibility timeout', { messageId: message.MessageId, code: run.code });
    }
  } catch (err) {
    deps.log.error('could not settle the message; it comes back after its visibility timeout', { messageId: message.MessageId, error: err });
  }
  return run.code;
}
