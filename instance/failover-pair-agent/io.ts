/**
 * The agent's calls to AWS, IMDS and the node: small functions over SDK v3 clients (created once, injectable),
 * each retried through eventual consistency and throttling, each safe to repeat.
 */
import { AutoScalingClient, CompleteLifecycleActionCommand, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  AssociateAddressCommand,
  CreateRouteCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeRouteTablesCommand,
  EC2Client,
  ModifyInstanceAttributeCommand,
  ReplaceRouteCommand,
} from '@aws-sdk/client-ec2';
import { errorName, isTransient } from '../../lambda/shared/errors';
import { metadataBaseUrl } from '../../lambda/shared/imds';
import { retry, type RetryOptions } from '../../lambda/shared/retry';
import { addressIsHere, GroupMember, PairInstance, planRoute } from './logic';

export interface Clients {
  readonly ec2: EC2Client;
  readonly autoscaling: AutoScalingClient;
}

let clients: Clients | undefined;
/** One set of clients per process; tests pass their own. */
export function defaultClients(): Clients {
  clients ??= { ec2: new EC2Client({}), autoscaling: new AutoScalingClient({}) };
  return clients;
}

export type RetryTuning = Partial<Omit<RetryOptions, 'retryable'>>;

function tuned(options: RetryTuning | undefined, retryable: (e: unknown) => boolean = isTransient): RetryOptions {
  return { deadlineMs: 60_000, baseDelayMs: 200, maxDelayMs: 3_000, ...options, retryable };
}

/** The members of an Auto Scaling group with their private addresses (absent for instances EC2 no longer lists). */
export async function describeGroupMembers(c: Clients, groupName: string, options?: RetryTuning): Promise<GroupMember[]> {
  const group = await retry(
    () => c.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] })),
    tuned(options),
  );
  const instances = group.AutoScalingGroups?.[0]?.Instances ?? [];
  if (instances.length === 0) return [];
  const ids = instances.map((i) => i.InstanceId!).filter(Boolean);
  // A filter, not InstanceIds: an instance that is already gone is simply absent instead of failing the call.
  const addresses = new Map<string, string>();
  let nextToken: string | undefined;
  do {
    const page = await retry(
      () => c.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: ids }], NextToken: nextToken })),
      tuned(options),
    );
    for (const r of page.Reservations ?? []) for (const i of r.Instances ?? []) if (i.InstanceId && i.PrivateIpAddress) addresses.set(i.InstanceId, i.PrivateIpAddress);
    nextToken = page.NextToken;
  } while (nextToken);
  return instances.map((i) => ({ instanceId: i.InstanceId!, lifecycleState: i.LifecycleState ?? 'Unknown', privateIp: addresses.get(i.InstanceId!) }));
}

/** Both nodes of the pair, found by the tag the stack puts on them (no address is configured anywhere). */
export async function describePairInstances(c: Clients, tagKey: string, tagValue: string, options?: RetryTuning): Promise<PairInstance[]> {
  const out: PairInstance[] = [];
  let nextToken: string | undefined;
  do {
    const page = await retry(
      () =>
        c.ec2.send(
          new DescribeInstancesCommand({
            Filters: [
              { Name: `tag:${tagKey}`, Values: [tagValue] },
              { Name: 'instance-state-name', Values: ['pending', 'running'] },
            ],
            NextToken: nextToken,
          }),
        ),
      tuned(options),
    );
    for (const r of page.Reservations ?? []) {
      for (const i of r.Instances ?? []) {
        out.push({ instanceId: i.InstanceId!, privateIp: i.PrivateIpAddress, state: i.State?.Name ?? 'unknown', launchTimeMs: i.LaunchTime ? new Date(i.LaunchTime).getTime() : 0 });
      }
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return out;
}

export interface Self {
  readonly instanceId: string;
  readonly networkInterfaceId: string;
}

export type MoveResult = 'moved' | 'already-here' | 'abandoned';

/**
 * Points the Elastic IP at this node: AssociateAddress with AllowReassociation (taking it from the other
 * node in one call). Re-reads where it points first, so a repeated call is a no-op, and re-checks before
 * every attempt that this node is still MASTER, so a node that lost mastership while retrying gives up
 * instead of taking the address back (no split brain).
 */
export async function moveElasticIp(
  c: Clients,
  allocationId: string,
  self: Self,
  stillMaster: () => Promise<boolean> | boolean,
  options?: RetryTuning,
): Promise<MoveResult> {
  return retry(async () => {
    if (!(await stillMaster())) return 'abandoned';
    const described = await c.ec2.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }));
    const address = described.Addresses?.[0];
    if (addressIsHere(address && { instanceId: address.InstanceId, networkInterfaceId: address.NetworkInterfaceId }, self)) return 'already-here';
    await c.ec2.send(new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: self.instanceId, AllowReassociation: true }));
    return 'moved';
  }, tuned(options));
}

/**
 * Routes the VPN virtual address (a /32 outside the VPC range) to this node's network interface in one
 * route table: ReplaceRoute, or CreateRoute the first time. Two nodes racing to create the route is
 * retried as a replace. Same no-op and mastership rules as `moveElasticIp`.
 */
export async function moveRoute(
  c: Clients,
  routeTableId: string,
  cidr: string,
  self: Self,
  stillMaster: () => Promise<boolean> | boolean,
  options?: RetryTuning,
): Promise<MoveResult> {
  const retryable = (e: unknown) => isTransient(e) || errorName(e) === 'RouteAlreadyExists';
  return retry(async () => {
    if (!(await stillMaster())) return 'abandoned';
    const tables = await c.ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [routeTableId] }));
    const routes = (tables.RouteTables?.[0]?.Routes ?? []).map((r) => ({ destinationCidrBlock: r.DestinationCidrBlock, networkInterfaceId: r.NetworkInterfaceId, instanceId: r.InstanceId }));
    const action = planRoute(routes, cidr, self);
    if (action === 'noop') return 'already-here';
    const input = { RouteTableId: routeTableId, DestinationCidrBlock: cidr, NetworkInterfaceId: self.networkInterfaceId };
    await c.ec2.send(action === 'replace' ? new ReplaceRouteCommand(input) : new CreateRouteCommand(input));
    return 'moved';
  }, tuned(options, retryable));
}

/** Turns off the source/destination check, so the VPC delivers packets for the virtual address to this node. */
export async function disableSourceDestCheck(c: Clients, instanceId: string, options?: RetryTuning): Promise<void> {
  await retry(() => c.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, SourceDestCheck: { Value: false } })), tuned(options));
}

/**
 * Instance metadata (IMDSv2: a session token first), at the SDK's metadata endpoint override
 * (AWS_EC2_METADATA_SERVICE_ENDPOINT) when it is set, as every SDK-based program on the node honours it.
 */
export async function imds(path: string, base = metadataBaseUrl()): Promise<string> {
  const token = await (await fetch(`${base}/latest/api/token`, { method: 'PUT', headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '300' } })).text();
  const res = await fetch(`${base}/latest/meta-data/${path}`, { headers: { 'X-aws-ec2-metadata-token': token } });
  if (!res.ok) throw new Error(`IMDS ${path}: HTTP ${res.status}`);
  return (await res.text()).trim();
}

/**
 * Lets a drained app instance's termination go on before the hook's heartbeat runs out. An instance that is not
 * waiting (already completed by an earlier round, or timed out) is answered with a ValidationError: a no-op.
 */
export async function completeDrain(c: Clients, groupName: string, hookName: string, instanceId: string, options?: RetryTuning): Promise<'completed' | 'not-waiting'> {
  try {
    await retry(
      () => c.autoscaling.send(new CompleteLifecycleActionCommand({ AutoScalingGroupName: groupName, LifecycleHookName: hookName, InstanceId: instanceId, LifecycleActionResult: 'CONTINUE' })),
      tuned(options),
    );
    return 'completed';
  } catch (e) {
    if (errorName(e) === 'ValidationError') return 'not-waiting';
    throw e;
  }
}
