/**
 * An in-memory stand-in for the parts of DynamoDB, Auto Scaling and EC2 that the LeaderElection hook and the
 * on-instance tool use, evaluating exactly their condition expressions (atomically per request). It lets a
 * test drive the real handler and the real leader-only code through a whole story: launches, deployments,
 * the nightly stop, the morning.
 */
import type { Clients } from '../../lambda/leader/io';

type Item = Record<string, any>;

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

function ccf(): Error {
  return Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
}

export class FakeAws {
  readonly items = new Map<string, Item>();
  readonly instances: FakeInstance[] = [];
  readonly events: AsgEvent[] = [];
  desired = 0;
  private next = 0;

  constructor(readonly group: string, readonly hookName: string) {}

  clients(): Clients {
    const client = { send: (c: never) => this.send(c) } as never;
    return { ddb: client, autoscaling: client, ec2: client };
  }

  async send(command: { constructor: { name: string }; input: any }): Promise<any> {
    await new Promise((r) => setImmediate(r)); // let concurrent callers interleave between requests
    const i = command.input;
    const key = (k: { pk: string; sk: string }) => `${k.pk}|${k.sk}`;
    const v = i.ExpressionAttributeValues ?? {};
    switch (command.constructor.name) {
      case 'GetCommand': {
        const item = this.items.get(key(i.Key));
        return item ? { Item: structuredClone(item) } : {};
      }
      case 'PutCommand': {
        const cur = this.items.get(key(i.Item));
        const ok =
          i.ConditionExpression === 'attribute_not_exists(pk)'
            ? cur === undefined
            : i.ConditionExpression === '#v = :expected'
              ? cur?.version === v[':expected']
              : i.ConditionExpression === 'attempt = :expected AND #s <> :done'
                ? cur !== undefined && cur.attempt === v[':expected'] && cur.status !== 'DONE'
                : unexpected(i.ConditionExpression);
        if (!ok) throw ccf();
        this.items.set(key(i.Item), structuredClone(i.Item));
        return {};
      }
      case 'UpdateCommand': {
        const cur = this.items.get(key(i.Key));
        if (i.ConditionExpression === 'attempt = :attempt AND #o = :me') {
          if (!cur || cur.attempt !== v[':attempt'] || cur.owner !== v[':me']) throw ccf();
          this.items.set(key(i.Key), { ...cur, status: v[':status'], finishedAt: v[':now'], exitCode: v[':code'] });
        } else if (i.ConditionExpression === 'attempt = :attempt AND #s = :running') {
          if (!cur || cur.attempt !== v[':attempt'] || cur.status !== 'RUNNING') throw ccf();
          this.items.set(key(i.Key), { ...cur, status: 'ABANDONED', abandonedAt: v[':now'] });
        } else unexpected(i.ConditionExpression);
        return {};
      }
      case 'QueryCommand': {
        const items = [...this.items.values()].filter((it) => it.pk === v[':pk'] && String(it.sk).startsWith(v[':prefix']) && it.status === v[':running']);
        return { Items: structuredClone(items) };
      }
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
          if (!x || x.state !== 'InService') throw Object.assign(new Error(`The instance ${id} is not in InService`), { name: 'ValidationError' });
          x.protected = i.ProtectedFromScaleIn;
        }
        this.reconcile(); // protection lifted at desired 0: the group can now terminate it
        return {};
      case 'CompleteLifecycleActionCommand': {
        const x = this.find(i.InstanceId);
        if (!x || x.state !== 'Terminating:Wait' || i.LifecycleHookName !== this.hookName) {
          throw Object.assign(new Error(`No active Lifecycle Action found with instance ID ${i.InstanceId}`), { name: 'ValidationError' });
        }
        this.instances.splice(this.instances.indexOf(x), 1);
        return {};
      }
      case 'CreateTagsCommand':
      case 'DeleteTagsCommand':
        for (const id of i.Resources) {
          const x = this.find(id);
          if (!x) throw Object.assign(new Error(`The instance ID '${id}' does not exist`), { name: 'InvalidInstanceID.NotFound' });
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
