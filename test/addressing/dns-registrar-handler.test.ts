import { AutoScalingClient, CompleteLifecycleActionCommand, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
  type ChangeResourceRecordSetsCommandInput,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { createHandler, configFromEnv, parseEvent, type HandlerConfig } from '../../lambda/dns-registrar/index';
import type { Logger } from '../../lambda/shared/log';
import launchHookEvent from '../fixtures/events/autoscaling-launch-lifecycle-action.json';
import launchSuccessfulEvent from '../fixtures/events/autoscaling-launch-successful.json';
import terminateHookEvent from '../fixtures/events/autoscaling-terminate-lifecycle-action.json';
import terminateSuccessfulEvent from '../fixtures/events/autoscaling-terminate-successful.json';
import scheduledEvent from '../fixtures/events/eventbridge-scheduled-event.json';
import describeGroupsResponse from '../fixtures/events/autoscaling-describe-auto-scaling-groups-response.json';
import describeInstancesResponse from '../fixtures/events/ec2-describe-instances-response.json';
import listRecordsResponse from '../fixtures/events/route53-list-resource-record-sets-response.json';
import changeResponse from '../fixtures/events/route53-change-resource-record-sets-response.json';
import * as wire from '../wire/bodies';
import { parsedError } from '../wire/parsed';
import type { WireAnswer } from '../wire/server';

const GROUP = 'my-asg';
const HOOK = 'my-lifecycle-hook';
const NAME = 'www-cluster3.example.com';
const ZONE = 'Z0123456789ABCDEFGHIJ';

const asg = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);
const r53 = mockClient(Route53Client);

// Errors as the real clients parse the documented answers (test/wire/bodies.ts), never typed by hand.
const r53Error = (answer: WireAnswer) => parsedError(Route53Client, new ChangeResourceRecordSetsCommand({ HostedZoneId: ZONE, ChangeBatch: { Changes: [] } }), answer);
const ec2Error = (answer: WireAnswer) => parsedError(EC2Client, new DescribeInstancesCommand({ InstanceIds: ['i-1234567890abcdef0'] }), answer);
const asgError = (answer: WireAnswer) =>
  parsedError(AutoScalingClient, new CompleteLifecycleActionCommand({ AutoScalingGroupName: GROUP, LifecycleHookName: HOOK, LifecycleActionResult: 'CONTINUE' }), answer);

// --- a small fake of the hosted zone, so tests assert the record that results, not only the calls ---
let zone: Map<string, { ttl: number; values: string[] }>;
let instances: Array<{ id: string; state: string; health?: string; ip: string }>;
let slept: number[];
let clock: number;

function withFqdn(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

function describeInstancesAnswer(input: { InstanceIds?: string[]; Filters?: Array<{ Name?: string; Values?: string[] }> }) {
  const wanted = input.InstanceIds ?? input.Filters?.[0].Values ?? [];
  const template = describeInstancesResponse.Reservations[0];
  return {
    Reservations: [
      {
        ...template,
        Instances: instances
          .filter((i) => wanted.includes(i.id))
          .map((i) => ({ ...template.Instances[0], InstanceId: i.id, PrivateIpAddress: i.ip, State: { Code: 16, Name: 'running' } })),
      },
    ],
  };
}

function installFakes(): void {
  asg.on(DescribeAutoScalingGroupsCommand).callsFake((input: { AutoScalingGroupNames: string[] }) => {
    const template = describeGroupsResponse.AutoScalingGroups[0];
    if (!input.AutoScalingGroupNames.includes(template.AutoScalingGroupName)) return { AutoScalingGroups: [] };
    return {
      AutoScalingGroups: [
        {
          ...template,
          Instances: instances.map((i) => ({ ...template.Instances[0], InstanceId: i.id, LifecycleState: i.state, HealthStatus: i.health ?? 'Healthy' })),
        },
      ],
    };
  });
  ec2.on(DescribeInstancesCommand).callsFake(describeInstancesAnswer);
  r53.on(ListResourceRecordSetsCommand).callsFake((input: { StartRecordName: string }) => {
    const key = withFqdn(input.StartRecordName).toLowerCase();
    const found = zone.get(key);
    if (!found) return listRecordsResponse; // the next record in the zone is someone else's (SOA here)
    return {
      ...listRecordsResponse,
      ResourceRecordSets: [{ Name: key, Type: 'A', TTL: found.ttl, ResourceRecords: found.values.map((Value) => ({ Value })) }],
    };
  });
  r53.on(ChangeResourceRecordSetsCommand).callsFake(async (input: ChangeResourceRecordSetsCommandInput) => {
    // A batch is atomic: apply to a copy, keep it only if every change succeeded (restored before anything else runs).
    const before = new Map(zone);
    const rejected = applyBatch(input);
    if (rejected !== undefined) {
      zone = before;
      throw await r53Error(wire.route53.invalidChangeBatch(rejected));
    }
    return changeResponse;
  });
  asg.on(CompleteLifecycleActionCommand).resolves({});
}

/** Applies the changes in order; the first one Route 53 would refuse stops the batch, and its InvalidChangeBatch message is returned. */
function applyBatch(input: ChangeResourceRecordSetsCommandInput): string | undefined {
  {
    for (const c of input.ChangeBatch!.Changes!) {
      const set = c.ResourceRecordSet!;
      const key = withFqdn(set.Name!).toLowerCase();
      const values = (set.ResourceRecords ?? []).map((r) => r.Value!);
      if (c.Action === 'DELETE') {
        const existing = zone.get(key);
        if (!existing) {
          return `[Tried to delete resource record set [name='${key}', type='A'] but it was not found]`;
        }
        if (existing.ttl !== set.TTL || [...existing.values].sort().join() !== [...values].sort().join()) {
          return `[Tried to delete resource record set [name='${key}', type='A'] but the values provided do not match the current values]`;
        }
        zone.delete(key);
      } else if (c.Action === 'CREATE') {
        if (zone.has(key)) {
          return `[Tried to create resource record set [name='${key}', type='A'] but it already exists]`;
        }
        zone.set(key, { ttl: set.TTL!, values });
      } else {
        zone.set(key, { ttl: set.TTL!, values });
      }
    }
  }
  return undefined;
}

const silent: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function handlerWith(config: Partial<HandlerConfig> = {}) {
  return createHandler({
    clients: () => ({ autoScaling: new AutoScalingClient({}), ec2: new EC2Client({}), route53: new Route53Client({}) }),
    config: () => ({
      groupName: GROUP,
      zoneId: ZONE,
      recordName: NAME,
      ttl: 60,
      singleHost: false,
      includePending: false,
      addressKind: 'private',
      launchHookName: HOOK,
      terminateHookName: HOOK,
      drainSeconds: 0,
      ...config,
    }),
    logger: silent,
    timing: {
      sleep: async (ms) => {
        slept.push(ms);
        clock += ms;
      },
      now: () => clock,
      random: () => 0.5,
    },
  });
}

/** The documented sample events, pointed at our group (the samples name two different groups). */
function forGroup<T extends { detail: object }>(sample: T, instanceId: string): T {
  return { ...sample, detail: { ...sample.detail, AutoScalingGroupName: GROUP, EC2InstanceId: instanceId } };
}

const record = () => zone.get(`${NAME}.`);
const changeCalls = () => r53.commandCalls(ChangeResourceRecordSetsCommand);

beforeEach(() => {
  asg.reset();
  ec2.reset();
  r53.reset();
  zone = new Map();
  instances = [];
  slept = [];
  clock = 0;
  installFakes();
});

describe('an instance entering service', () => {
  test('is added to the round-robin record when the group reports the launch successful', async () => {
    instances = [
      { id: 'i-0aaaaaaaaaaaaaaa1', state: 'InService', ip: '10.0.1.10' },
      { id: 'i-1234567890abcdef0', state: 'InService', ip: '10.0.2.20' },
    ];
    zone.set(`${NAME}.`, { ttl: 60, values: ['10.0.1.10'] });
    const outcome = await handlerWith()(forGroup(launchSuccessfulEvent, 'i-1234567890abcdef0'));
    expect(outcome).toMatchObject({ trigger: 'launched', change: 'REPLACE' });
    expect(record()).toEqual({ ttl: 60, values: ['10.0.1.10', '10.0.2.20'] });
    const input = changeCalls()[0].args[0].input;
    expect(input.HostedZoneId).toBe(ZONE);
    // One atomic batch: delete the record exactly as read, create it with the new values (compare-and-swap).
    expect(input.ChangeBatch?.Changes).toEqual([
      { Action: 'DELETE', ResourceRecordSet: { Name: NAME, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '10.0.1.10' }] } },
      { Action: 'CREATE', ResourceRecordSet: { Name: NAME, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '10.0.1.10' }, { Value: '10.0.2.20' }] } },
    ]);
  });

  test('creates the record for the first instance, ignoring the neighbouring record Route 53 returns', async () => {
    instances = [{ id: 'i-1234567890abcdef0', state: 'InService', ip: '10.0.2.20' }];
    await handlerWith()(forGroup(launchSuccessfulEvent, 'i-1234567890abcdef0'));
    expect(record()).toEqual({ ttl: 60, values: ['10.0.2.20'] });
  });

  test('with registration before InService: added at the launch hook, then the launch continues', async () => {
    instances = [{ id: 'i-1234567890abcdef0', state: 'Pending:Wait', ip: '10.0.2.20' }];
    const outcome = await handlerWith({ includePending: true })(forGroup(launchHookEvent, 'i-1234567890abcdef0'));
    expect(outcome).toMatchObject({ trigger: 'launching', change: 'CREATE', completed: true });
    expect(record()?.values).toEqual(['10.0.2.20']);
    expect(asg.commandCalls(CompleteLifecycleActionCommand)[0].args[0].input).toEqual({
      AutoScalingGroupName: GROUP,
      LifecycleHookName: HOOK,
      InstanceId: 'i-1234567890abcdef0',
      LifecycleActionToken: '87654321-4321-4321-4321-210987654321',
      LifecycleActionResult: 'CONTINUE',
    });
  });

  test('leaves another construct\'s lifecycle hook alone', async () => {
    instances = [{ id: 'i-1234567890abcdef0', state: 'Pending:Wait', ip: '10.0.2.20' }];
    const outcome = await handlerWith({ launchHookName: 'DnsRegistrarLaunch' })(forGroup(launchHookEvent, 'i-1234567890abcdef0'));
    expect(outcome.trigger).toBe('ignored');
    expect(asg.calls()).toHaveLength(0);
    expect(r53.calls()).toHaveLength(0);
  });

  test('ignores events of another group', async () => {
    const outcome = await handlerWith()(launchSuccessfulEvent); // the sample names "my-auto-scaling-group"
    expect(outcome).toMatchObject({ trigger: 'ignored' });
    expect(r53.calls()).toHaveLength(0);
  });

  test('waits for EC2 to see a just-launched instance (eventual consistency)', async () => {
    instances = [{ id: 'i-1234567890abcdef0', state: 'InService', ip: '10.0.2.20' }];
    const notFound = await ec2Error(wire.ec2.instanceNotFound('i-1234567890abcdef0'));
    // The first answer does not know the instance yet; later ones do.
    let calls = 0;
    ec2.on(DescribeInstancesCommand).callsFake((input) => {
      if (++calls === 1) throw notFound;
      return describeInstancesAnswer(input);
    });
    await handlerWith()(forGroup(launchSuccessfulEvent, 'i-1234567890abcdef0'));
    expect(ec2.commandCalls(DescribeInstancesCommand).length).toBeGreaterThanOrEqual(2);
    expect(record()?.values).toEqual(['10.0.2.20']);
  });
});

describe('EC2 that never shows an instance within the deadline', () => {
  test('registers the instances EC2 can see and leaves the rest to the next event or sweep', async () => {
    instances = [
      { id: 'i-0aaaaaaaaaaaaaaa1', state: 'InService', ip: '10.0.1.10' },
      { id: 'i-1234567890abcdef0', state: 'InService', ip: '10.0.2.20' },
    ];
    const notFound = await ec2Error(wire.ec2.instanceNotFound('i-1234567890abcdef0'));
    ec2.on(DescribeInstancesCommand).callsFake((input: { InstanceIds?: string[]; Filters?: Array<{ Values?: string[] }> }) => {
      if (input.InstanceIds) throw notFound; // by id: never visible in time
      // by filter (unknown ids are simply absent): only the older instance is visible
      return describeInstancesAnswer({ Filters: [{ Values: (input.Filters?.[0].Values ?? []).filter((id) => id !== 'i-1234567890abcdef0') }] });
    });
    const outcome = await handlerWith()(forGroup(launchSuccessfulEvent, 'i-1234567890abcdef0'));
    expect(outcome.change).toBe('CREATE');
    expect(record()?.values).toEqual(['10.0.1.10']);
    expect(clock).toBeLessThanOrEqual(20_000);
  });
});

describe('an instance leaving', () => {
  const leaving = 'i-1234567890abcdef0';

  test('is removed at the termination hook, and the termination continues at once without a drain time', async () => {
    instances = [
      { id: 'i-0aaaaaaaaaaaaaaa1', state: 'InService', ip: '10.0.1.10' },
      { id: leaving, state: 'Terminating:Wait', ip: '10.0.2.20' },
    ];
    zone.set(`${NAME}.`, { ttl: 60, values: ['10.0.1.10', '10.0.2.20'] });
    const outcome = await handlerWith()(forGroup(terminateHookEvent, leaving));
    expect(outcome).toMatchObject({ trigger: 'terminating', change: 'REPLACE', completed: true });
    expect(record()?.values).toEqual(['10.0.1.10']);
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(1);
  });

  test('with a drain time, stays in Terminating:Wait (the hook times out with CONTINUE) so cached answers expire first', async () => {
    instances = [{ id: 'i-0aaaaaaaaaaaaaaa1', state: 'InService', ip: '10.0.1.10' }, { id: leaving, state: 'InService', ip: '10.0.2.20' }];
    zone.set(`${NAME}.`, { ttl: 60, values: ['10.0.1.10', '10.0.2.20'] });
    const outcome = await handlerWith({ drainSeconds: 60 })(forGroup(terminateHookEvent, leaving));
    expect(record()?.values).toEqual(['10.0.1.10']); // removed even though the group still read InService
    expect(outcome.completed).toBeUndefined();
    expect(asg.commandCalls(CompleteLifecycleActionCommand)).toHaveLength(0);
  });

  test('deletes the record with its exact current TTL and values when the last instance leaves', async () => {
    instances = [{ id: leaving, state: 'Terminating:Wait', ip: '10.0.2.20' }];
    zone.set(`${NAME}.`, { ttl: 300, values: ['10.0.2.20'] });
    const outcome = await handlerWith()(forGroup(terminateHookEvent, leaving));
    expect(outcome.change).toBe('DELETE');
    expect(record()).toBeUndefined();
    expect(changeCalls()[0].args[0].input.ChangeBatch?.Changes?.[0]).toMatchObject({ Action: 'DELETE', ResourceRecordSet: { TTL: 300 } });
  });

  test('a terminate-successful event removes an instance the hook missed', async () => {
    instances = [{ id: 'i-0aaaaaaaaaaaaaaa1', state: 'InService', ip: '10.0.1.10' }];
    zone.set(`${NAME}.`, { ttl: 60, values: ['10.0.1.10', '10.0.2.20'] });
    await handlerWith()(forGroup(terminateSuccessfulEvent, leaving));
    expect(record()?.values).toEqual(['10.0.1.10']);
  });

  test('re-reads and re-plans when the record changed between read and DELETE', async () => {
    instances = [{ id: leaving, state: 'Terminating:Wait', ip: '10.0.2.20' }];
    zone.set(`${NAME}.`, { ttl: 60, values: ['10.0.2.20'] });
    // Someone else changes the record right after our first read.
    let reads = 0;
    r53.on(ListResourceRecordSetsCommand).callsFake(() => {
      reads++;
      const answer = { ...listRecordsResponse, ResourceRecordSets: [{ Name: `${NAME}.`, Type: 'A', TTL: 60, ResourceRecords: zone.get(`${NAME}.`)!.values.map((Value) => ({ Value })) }] };
      if (reads === 1) zone.set(`${NAME}.`, { ttl: 60, values: ['10.0.2.20', '10.0.3.30'] });
      return answer;
    });
    const outcome = await handlerWith()(forGroup(terminateHookEvent, leaving));
    expect(reads).toBe(2);
    expect(outcome.change).toBe('DELETE');
    expect(record()).toBeUndefined();
  });
});

describe('concurrent invocations (for example every instance terminating at the nightly stop)', () => {
  test('a write based on an older view of the group is rejected atomically and redone: a leaving instance is not put back', async () => {
    const [a, b, c] = ['i-0aaaaaaaaaaaaaaa1', 'i-0bbbbbbbbbbbbbbb2', 'i-0ccccccccccccccc3'];
    instances = [
      { id: a, state: 'InService', ip: '10.0.1.10' },
      { id: b, state: 'Terminating:Wait', ip: '10.0.2.20' },
      { id: c, state: 'InService', ip: '10.0.3.30' },
    ];
    zone.set(`${NAME}.`, { ttl: 60, values: ['10.0.1.10', '10.0.2.20', '10.0.3.30'] });
    // After we have read the record and the group, another registrar (handling a's termination) removes a.
    let describes = 0;
    ec2.on(DescribeInstancesCommand).callsFake((input) => {
      if (++describes === 1) {
        instances[0] = { ...instances[0], state: 'Terminating:Wait' };
        zone.set(`${NAME}.`, { ttl: 60, values: ['10.0.2.20', '10.0.3.30'] });
      }
      return describeInstancesAnswer(input);
    });
    const outcome = await handlerWith()(forGroup(terminateHookEvent, b));
    // Last-writer-wins (UPSERT) would have written [a, c] and served the terminated a; the compare-and-swap re-read instead.
    expect(record()?.values).toEqual(['10.0.3.30']);
    expect(outcome).toMatchObject({ change: 'REPLACE', values: ['10.0.3.30'] });
    expect(changeCalls()).toHaveLength(2);
    expect(slept.length).toBeGreaterThanOrEqual(1);
  });

  test('two first instances racing to create the record: the second sees it exists and adds itself', async () => {
    const [a, b] = ['i-0aaaaaaaaaaaaaaa1', 'i-0bbbbbbbbbbbbbbb2'];
    instances = [
      { id: a, state: 'InService', ip: '10.0.1.10' },
      { id: b, state: 'InService', ip: '10.0.2.20' },
    ];
    let describes = 0;
    ec2.on(DescribeInstancesCommand).callsFake((input) => {
      if (++describes === 1) zone.set(`${NAME}.`, { ttl: 60, values: ['10.0.1.10'] }); // a's registrar created it first
      return describeInstancesAnswer(input);
    });
    const outcome = await handlerWith()(forGroup(launchSuccessfulEvent, b));
    expect(outcome.change).toBe('REPLACE');
    expect(record()?.values).toEqual(['10.0.1.10', '10.0.2.20']);
  });

  test('gives up after a bounded number of conflicting rounds (the event is retried and the sweep repairs)', async () => {
    instances = [{ id: 'i-1234567890abcdef0', state: 'InService', ip: '10.0.2.20' }];
    r53.on(ChangeResourceRecordSetsCommand).rejects(
      await r53Error(wire.route53.invalidChangeBatch("[Tried to create resource record set [name='x', type='A'] but it already exists]")),
    );
    await expect(handlerWith()(forGroup(launchSuccessfulEvent, 'i-1234567890abcdef0'))).rejects.toThrow(/already exists/);
    expect(changeCalls()).toHaveLength(6);
  });

  test('a batch rejected for another reason (a CNAME already holds the name) is not retried as a conflict', async () => {
    instances = [{ id: 'i-1234567890abcdef0', state: 'InService', ip: '10.0.2.20' }];
    r53.on(ChangeResourceRecordSetsCommand).rejects(
      await r53Error(wire.route53.invalidChangeBatch('RRSet of type A with DNS name x is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists')),
    );
    await expect(handlerWith()(forGroup(launchSuccessfulEvent, 'i-1234567890abcdef0'))).rejects.toThrow(/conflicting RRSet/);
    expect(changeCalls()).toHaveLength(1);
  });
});

describe('duplicate events', () => {
  test('a repeated launch event changes nothing the second time', async () => {
    instances = [{ id: 'i-1234567890abcdef0', state: 'InService', ip: '10.0.2.20' }];
    const handler = handlerWith();
    const event = forGroup(launchSuccessfulEvent, 'i-1234567890abcdef0');
    await handler(event);
    const second = await handler(event);
    expect(second.change).toBe('NONE');
    expect(changeCalls()).toHaveLength(1);
    expect(record()?.values).toEqual(['10.0.2.20']);
  });

  test('a repeated termination hook finds no active lifecycle action and still succeeds', async () => {
    instances = [{ id: 'i-1234567890abcdef0', state: 'Terminating:Proceed', ip: '10.0.2.20' }];
    asg.on(CompleteLifecycleActionCommand).rejects(
      await asgError(wire.autoscaling.noActiveLifecycleAction('i-1234567890abcdef0')),
    );
    const outcome = await handlerWith()(forGroup(terminateHookEvent, 'i-1234567890abcdef0'));
    expect(outcome).toMatchObject({ change: 'NONE', completed: false });
  });

  test('a DELETE of a record someone already deleted is success', async () => {
    instances = [];
    // Read says it exists, but by the time we delete it is gone.
    r53.on(ListResourceRecordSetsCommand).resolves({
      ...(listRecordsResponse as object),
      ResourceRecordSets: [{ Name: `${NAME}.`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '10.0.2.20' }] }],
    });
    const outcome = await handlerWith()(scheduledEvent);
    expect(outcome.change).toBe('DELETE');
    expect(changeCalls()).toHaveLength(1);
  });
});

describe('Route 53 throttling', () => {
  test('retries Throttling and PriorRequestNotComplete with growing backoff, then succeeds', async () => {
    instances = [{ id: 'i-1234567890abcdef0', state: 'InService', ip: '10.0.2.20' }];
    r53
      .on(ChangeResourceRecordSetsCommand)
      .rejectsOnce(await r53Error(wire.route53.throttling()))
      .rejectsOnce(await r53Error(wire.route53.priorRequestNotComplete()))
      .resolves(changeResponse as never);
    const outcome = await handlerWith()(forGroup(launchSuccessfulEvent, 'i-1234567890abcdef0'));
    expect(outcome.change).toBe('CREATE');
    expect(changeCalls()).toHaveLength(3);
    expect(slept).toHaveLength(2);
    expect(slept[1]).toBeGreaterThan(slept[0]);
  });

  test('gives up with the error once the deadline has passed', async () => {
    instances = [{ id: 'i-1234567890abcdef0', state: 'InService', ip: '10.0.2.20' }];
    r53.on(ChangeResourceRecordSetsCommand).rejects(await r53Error(wire.route53.priorRequestNotComplete()));
    await expect(handlerWith()(forGroup(launchSuccessfulEvent, 'i-1234567890abcdef0'))).rejects.toThrow(/still processing/);
    expect(clock).toBeLessThanOrEqual(60_000);
    expect(changeCalls().length).toBeGreaterThan(3);
  });

  test('does not retry a change Route 53 rejects as invalid', async () => {
    instances = [{ id: 'i-1234567890abcdef0', state: 'InService', ip: '10.0.2.20' }];
    r53.on(ChangeResourceRecordSetsCommand).rejects(await r53Error(wire.route53.invalidChangeBatch('RRSet with DNS name x is not permitted in zone y')));
    await expect(handlerWith()(forGroup(launchSuccessfulEvent, 'i-1234567890abcdef0'))).rejects.toThrow(/not permitted/);
    expect(changeCalls()).toHaveLength(1);
  });
});

describe('the periodic sweep', () => {
  test('repairs drift: drops a stale address and adds a missing one', async () => {
    instances = [
      { id: 'i-0aaaaaaaaaaaaaaa1', state: 'InService', ip: '10.0.1.10' },
      { id: 'i-0bbbbbbbbbbbbbbb2', state: 'InService', ip: '10.0.2.20' },
      { id: 'i-0ccccccccccccccc3', state: 'Standby', ip: '10.0.3.30' },
    ];
    zone.set(`${NAME}.`, { ttl: 300, values: ['10.0.1.10', '10.0.9.99'] });
    const outcome = await handlerWith()(scheduledEvent);
    expect(outcome).toMatchObject({ trigger: 'sweep', change: 'REPLACE' });
    expect(record()).toEqual({ ttl: 60, values: ['10.0.1.10', '10.0.2.20'] });
  });

  test('changes nothing when the record is already right', async () => {
    instances = [{ id: 'i-0aaaaaaaaaaaaaaa1', state: 'InService', ip: '10.0.1.10' }];
    zone.set(`${NAME}.`, { ttl: 60, values: ['10.0.1.10'] });
    expect((await handlerWith()(scheduledEvent)).change).toBe('NONE');
    expect(changeCalls()).toHaveLength(0);
  });

  test('leaves the record alone when the group does not exist', async () => {
    zone.set(`${NAME}.`, { ttl: 60, values: ['10.0.1.10'] });
    const outcome = await handlerWith({ groupName: 'no-such-group' })(scheduledEvent);
    expect(outcome.change).toBe('SKIPPED');
    expect(record()?.values).toEqual(['10.0.1.10']);
  });

  test('single host: keeps the current host, and moves the name when that host is gone', async () => {
    instances = [
      { id: 'i-0aaaaaaaaaaaaaaa1', state: 'InService', ip: '10.0.1.10' },
      { id: 'i-0bbbbbbbbbbbbbbb2', state: 'InService', ip: '10.0.2.20' },
    ];
    zone.set(`${NAME}.`, { ttl: 60, values: ['10.0.2.20'] });
    const handler = handlerWith({ singleHost: true });
    expect((await handler(scheduledEvent)).change).toBe('NONE');
    instances = instances.slice(0, 1);
    await handler(scheduledEvent);
    expect(record()?.values).toEqual(['10.0.1.10']);
  });
});

describe('event parsing and configuration', () => {
  test('recognises each documented event sample', () => {
    expect(parseEvent(launchHookEvent)?.trigger).toEqual({ kind: 'launching', instanceId: 'i-1234567890abcdef0' });
    expect(parseEvent(launchSuccessfulEvent)?.trigger.kind).toBe('launched');
    expect(parseEvent(terminateHookEvent)?.trigger.kind).toBe('terminating');
    expect(parseEvent(terminateSuccessfulEvent)?.trigger.kind).toBe('terminated');
    expect(parseEvent(scheduledEvent)?.trigger.kind).toBe('sweep');
  });

  test('ignores warm-pool launches and events it does not handle', () => {
    expect(parseEvent({ ...launchHookEvent, detail: { ...launchHookEvent.detail, Destination: 'WarmPool' } })).toBeUndefined();
    expect(parseEvent({ ...launchSuccessfulEvent, 'detail-type': 'EC2 Instance Launch Unsuccessful' })).toBeUndefined();
    expect(parseEvent('not an event')).toBeUndefined();
  });

  test('reads the environment the construct sets, and names a missing variable', () => {
    const env = { GROUP_NAME: GROUP, HOSTED_ZONE_ID: `/hostedzone/${ZONE}`, RECORD_NAME: NAME, RECORD_TTL: '60', SINGLE_HOST: 'true', DRAIN_SECONDS: '60' };
    expect(configFromEnv(env)).toMatchObject({ zoneId: ZONE, ttl: 60, singleHost: true, drainSeconds: 60, addressKind: 'private', includePending: false });
    expect(() => configFromEnv({ ...env, RECORD_NAME: '' })).toThrow(/RECORD_NAME/);
  });
});
