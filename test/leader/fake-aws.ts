/**
 * A stand-in for the parts of Auto Scaling and EC2 that the LeaderElection hook and the on-instance tool use, in front
 * of a real DynamoDB (dynalite, see test/dynalite.ts): the ledger's condition and update expressions are evaluated by
 * DynamoDB's own rules, not matched as strings. It lets a test drive the real handler and the real leader-only code
 * through a whole story: launches, deployments, the nightly stop, the morning.
 */
import { AutoScalingClient, CompleteLifecycleActionCommand, SetInstanceProtectionCommand } from '@aws-sdk/client-auto-scaling';
import { CreateTagsCommand, DeleteTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clients } from '../../lambda/leader/io';
import * as wire from '../wire/bodies';
import { parsedError } from '../wire/parsed';

export interface FakeInstance {
  id: string;
  state: 'InService' | 'Terminating:Wait';
  protected: boolean;
  tags: Map<string, string>;
}

export interface AsgEvent {
  source: string;
  'detail-type': string;
  detail: Record<string, unknown>;
}

export class FakeAws {
  readonly instances: FakeInstance[] = [];
  readonly events: AsgEvent[] = [];
  desired = 0;
  private next = 0;

  /** The ledger's DynamoDB client; set before the first call (a test starts dynalite in beforeAll). */
  ddb?: DynamoDBDocumentClient;

  constructor(readonly group: string, readonly hookName: string) {}

  clients(): Clients {
    const client = { send: (c: never) => this.send(c) } as never;
    const ddb = { send: (c: never) => this.ddb!.send(c) } as never;
    return { ddb, autoscaling: client, ec2: client };
  }

  /** Errors are the ones the real clients parse from the documented answers (test/wire/bodies.ts), never typed by hand. */
  async send(command: { constructor: { name: string }; input: any }): Promise<any> {
    await new Promise((r) => setImmediate(r)); // let concurrent callers interleave between requests
    const i = command.input;
    switch (command.constructor.name) {
      case 'DescribeAutoScalingGroupsCommand':
        return {
          AutoScalingGroups: [
            {
              AutoScalingGroupName: this.group,
              DesiredCapacity: this.desired,
              Instances: this.instances.map((x) => ({ InstanceId: x.id, LifecycleState: x.state, HealthStatus: 'Healthy', ProtectedFromScaleIn: x.protected })),
            },
          ],
        };
      case 'SetInstanceProtectionCommand':
        for (const id of i.InstanceIds) {
          const x = this.find(id);
          if (!x || x.state !== 'InService') {
            const answer = x ? wire.autoscaling.protectionNotInService(id) : wire.autoscaling.notInGroup(id, this.group);
            throw await parsedError(AutoScalingClient, new SetInstanceProtectionCommand(i), answer);
          }
          x.protected = i.ProtectedFromScaleIn;
        }
        this.reconcile(); // protection lifted at desired 0: the group can now terminate it
        return {};
      case 'CompleteLifecycleActionCommand': {
        const x = this.find(i.InstanceId);
        if (!x || x.state !== 'Terminating:Wait' || i.LifecycleHookName !== this.hookName) {
          throw await parsedError(AutoScalingClient, new CompleteLifecycleActionCommand(i), wire.autoscaling.noActiveLifecycleAction(i.InstanceId));
        }
        this.instances.splice(this.instances.indexOf(x), 1);
        return {};
      }
      case 'CreateTagsCommand':
      case 'DeleteTagsCommand':
        for (const id of i.Resources) {
          const x = this.find(id);
          if (!x) throw await parsedError(EC2Client, command.constructor.name === 'CreateTagsCommand' ? new CreateTagsCommand(i) : new DeleteTagsCommand(i), wire.ec2.instanceNotFound(id));
          for (const t of i.Tags) {
            if (command.constructor.name === 'CreateTagsCommand') x.tags.set(t.Key, t.Value);
            else x.tags.delete(t.Key);
          }
        }
        return {};
      default:
        return unexpected(command.constructor.name);
    }
  }

  find(id: string): FakeInstance | undefined {
    return this.instances.find((x) => x.id === id);
  }

  inService(): FakeInstance[] {
    return this.instances.filter((x) => x.state === 'InService');
  }

  /** The group moves toward its desired capacity: launches (Launch Successful events) or terminates unprotected instances. */
  reconcile(): void {
    while (this.inService().length < this.desired) {
      const id = `i-0${(++this.next).toString(16).padStart(16, '0')}`;
      this.instances.push({ id, state: 'InService', protected: false, tags: new Map([['aws:autoscaling:groupName', this.group]]) });
      this.events.push({
        source: 'aws.autoscaling',
        'detail-type': 'EC2 Instance Launch Successful',
        detail: { AutoScalingGroupName: this.group, EC2InstanceId: id, StatusCode: 'InProgress' },
      });
    }
    for (let live = this.inService(); live.length > this.desired; live = this.inService()) {
      const victim = live.find((x) => !x.protected);
      if (!victim) break; // protected instances stay until their protection is lifted
      victim.state = 'Terminating:Wait';
      this.events.push({
        source: 'aws.autoscaling',
        'detail-type': 'EC2 Instance-terminate Lifecycle Action',
        detail: {
          AutoScalingGroupName: this.group,
          EC2InstanceId: victim.id,
          LifecycleHookName: this.hookName,
          LifecycleActionToken: `token-${victim.id}`,
          LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        },
      });
    }
  }

  setDesired(n: number): void {
    this.desired = n;
    this.reconcile();
  }
}

function unexpected(what: unknown): never {
  throw new Error(`fake AWS: unexpected ${String(what)}`);
}
