import { App, Duration, Errors, Stack, Token, aws_autoscaling as autoscaling, aws_ec2 as ec2, aws_events as events } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { CronDialect, PropsValidator, cronProblem, describe as describeValue, knownVpcCidrs, requireProps, vpcHasSubnetType } from '../../lib/private/validation';

// What a user reads at synth, written out in full: every message names the prop, the value received, what is allowed and
// how to fix it, and the error carries the path of the construct that rejected its props (the CDK CLI prints it).
// The cron examples and field syntax are spelled out here rather than read from the module.

const ASG_EXAMPLE = "Schedule.cron({ minute: '0', hour: '7', weekDay: 'MON-FRI' }) or Schedule.expression('0 7 * * MON-FRI')";
const EB_EXAMPLE = "events.Schedule.cron({ minute: '0', hour: '7', weekDay: 'MON-FRI' }) or events.Schedule.expression('cron(0 7 ? * MON-FRI *)')";
const syntax = (from: string, names = '') => `a value from ${from}${names}, a range (a-b), a list (a,b), * or a step (*/n)`;
const DAY_NAMES = 'SUN, MON, TUE, WED, THU, FRI, SAT';
const MONTH_NAMES = 'JAN, FEB, MAR, APR, MAY, JUN, JUL, AUG, SEP, OCT, NOV, DEC';

/** Runs one validator on a PropsValidator scoped to Test/Fleet; returns the error it throws. */
function thrown(fill: (check: PropsValidator, scope: Construct) => void): { path?: string; message: string; validation: boolean } {
  const scope = new Construct(new Stack(new App(), 'Test'), 'Fleet');
  const check = new PropsValidator('MultiAzFleet', scope);
  fill(check, scope);
  try {
    check.throwIfAny();
  } catch (e) {
    return { path: (e as { constructPath?: string }).constructPath, message: (e as Error).message, validation: Errors.isValidationError(e) };
  }
  throw new Error('no error thrown');
}

describe('every validator: full message and construct path', () => {
  test.each<[string, (check: PropsValidator, scope: Construct) => void, string]>([
    [
      'integerInRange, one below the minimum',
      (c) => c.integerInRange('maxConnections', 99, 100, 1_000_000),
      'maxConnections: got 99; allowed: an integer from 100 to 1000000. Fix: set maxConnections to a whole number between 100 and 1000000',
    ],
    [
      'integerInRange, NaN',
      (c) => c.integerInRange('size', Number.NaN, 1, 5),
      'size: got NaN; allowed: an integer from 1 to 5. Fix: set size to a whole number between 1 and 5',
    ],
    [
      'capacityRange, minimum one above the maximum',
      (c) => c.capacityRange({ minCapacity: 5, maxCapacity: 4 }, 5, 4),
      'minCapacity: got 5; allowed: at most maxCapacity (4). Fix: lower minCapacity or raise maxCapacity',
    ],
    [
      'scheduledCapacity, minCapacity alone one above the group maximum',
      (c) => c.scheduledCapacity('scheduledCapacity[0]', { minCapacity: 7 }, 2, 6),
      "scheduledCapacity[0].minCapacity: got 7; allowed: at most the group's maxCapacity (6), which stays in force because the action does not set maxCapacity. Fix: lower scheduledCapacity[0].minCapacity, or set scheduledCapacity[0].maxCapacity (or the group's maxCapacity) to at least 7",
    ],
    [
      'autoScalingSchedule, hour 24',
      (c) => c.autoScalingSchedule('scheduledCapacity[0].schedule', autoscaling.Schedule.cron({ minute: '0', hour: '24' })),
      `scheduledCapacity[0].schedule: got "0 24 * * *"; allowed: a 5-field Unix cron expression "minute hour day-of-month month day-of-week" (Auto Scaling Recurrence); the hour field "24" has 24, outside 0 to 23. Fix: write hour as ${syntax('0 to 23')}, for example ${ASG_EXAMPLE}`,
    ],
    [
      'autoScalingSchedule, missing',
      (c) => c.autoScalingSchedule('scheduledCapacity[0].schedule', undefined),
      "scheduledCapacity[0].schedule: got undefined; allowed: an autoscaling.Schedule (required). Fix: set scheduledCapacity[0].schedule, for example Schedule.cron({ minute: '0', hour: '7', weekDay: 'MON-FRI' })",
    ],
    [
      'autoScalingSchedule, null (JavaScript)',
      (c) => c.autoScalingSchedule('s', null as never),
      "s: got null; allowed: an autoscaling.Schedule (required). Fix: set s, for example Schedule.cron({ minute: '0', hour: '7', weekDay: 'MON-FRI' })",
    ],
    [
      'eventsSchedule, a misspelt day name',
      (c) => c.eventsSchedule('verifySchedule', events.Schedule.expression('cron(0 7 ? * MON-FRY *)')),
      `verifySchedule: got "cron(0 7 ? * MON-FRY *)"; allowed: an EventBridge cron expression "cron(minutes hours day-of-month month day-of-week year)"; the day-of-week field "MON-FRY" has "FRY", which is not a number or a name (${DAY_NAMES}). Fix: write day-of-week as ${syntax('1 to 7', ' or a name (SUN-SAT)')}, for example ${EB_EXAMPLE}`,
    ],
    ['add, a free-form problem', (c) => c.add('vpnVirtualIp: got "10.0.0.5"; allowed: an address outside the VPC. Fix: pick one outside 10.0.0.0/16'), 'vpnVirtualIp: got "10.0.0.5"; allowed: an address outside the VPC. Fix: pick one outside 10.0.0.0/16'],
  ])('%s', (_, fill, problem) => {
    expect(thrown(fill)).toEqual({ path: 'Test/Fleet', validation: true, message: `MultiAzFleet: invalid props (1):\n  - ${problem}` });
  });

  test('requireProps: props null (JavaScript), every required prop listed, scoped to the construct', () => {
    const scope = new Construct(new Stack(new App(), 'Test'), 'Fleet');
    let error: unknown;
    try {
      requireProps<{ vpc?: ec2.IVpc; machineImage?: string }>(scope, 'MultiAzFleet', null as never, { vpc: 'an ec2.IVpc', machineImage: 'an ec2.IMachineImage' });
    } catch (e) {
      error = e;
    }
    expect(Errors.isValidationError(error)).toBe(true);
    expect((error as { constructPath?: string }).constructPath).toBe('Test/Fleet');
    expect((error as Error).message).toBe(
      [
        'MultiAzFleet: invalid props (3):',
        '  - props: got null; allowed: a props object with vpc, machineImage. Fix: pass the props as the third argument: new MultiAzFleet(scope, id, { ... })',
        '  - vpc: got undefined; allowed: an ec2.IVpc (required). Fix: pass vpc',
        '  - machineImage: got undefined; allowed: an ec2.IMachineImage (required). Fix: pass machineImage',
      ].join('\n'),
    );
  });

  test('requireProps: props that are not an object (JavaScript) are reported as such', () => {
    const scope = new Construct(new Stack(new App(), 'Test'), 'Fleet');
    expect(() => requireProps<{ vpc?: ec2.IVpc }>(scope, 'MultiAzFleet', 'vpc-1' as never, { vpc: 'an ec2.IVpc' })).toThrow(
      'MultiAzFleet: invalid props (2):\n  - props: got "vpc-1"; allowed: a props object with vpc. Fix: pass the props as the third argument: new MultiAzFleet(scope, id, { ... })\n  - vpc: got undefined; allowed: an ec2.IVpc (required). Fix: pass vpc',
    );
  });
});

describe('cronProblem, Auto Scaling: what and fix in full', () => {
  test.each<[string, string, string]>([
    ['', '5 fields (minute hour day-of-month month day-of-week), got 0', `give exactly 5 fields separated by spaces, for example ${ASG_EXAMPLE}`],
    [
      ' cron(0 7 ? * MON-FRI *)',
      'EventBridge syntax such as cron(...) or rate(...) is not accepted by Auto Scaling',
      `write the five fields without cron(...), and "*" rather than "?", for example ${ASG_EXAMPLE}`,
    ],
    // EventBridge syntax is recognised at the start only; elsewhere it is just a wrong field count.
    ['in rate(5 minutes)', '5 fields (minute hour day-of-month month day-of-week), got 3', `give exactly 5 fields separated by spaces, for example ${ASG_EXAMPLE}`],
    ['0 7 * JANUARY *', `the month field "JANUARY" has "JANUARY", which is not a number or a name (${MONTH_NAMES})`, `write month as ${syntax('1 to 12', ' or a name (JAN-DEC)')}, for example ${ASG_EXAMPLE}`],
    ['0 7 * * 1-', `the day-of-week field "1-" has "", which is not a number or a name (${DAY_NAMES})`, `write day-of-week as ${syntax('0 to 7', ' or a name (SUN-SAT)')}, for example ${ASG_EXAMPLE}`],
    ['0 x * * *', 'the hour field "x" has "x", which is not a number', `write hour as ${syntax('0 to 23')}, for example ${ASG_EXAMPLE}`],
    ['0 7 */32 * *', 'the day-of-month field "*/32" has step 32, outside 1 to 31', `write day-of-month as ${syntax('1 to 31')}, for example ${ASG_EXAMPLE}`],
  ])('%j', (expression, what, fix) => {
    expect(cronProblem(expression, CronDialect.AUTO_SCALING)).toEqual({ what, fix });
  });

  test.each([
    ['+5', 'has "+5", which is not a number'],
    ['5.0', 'has "5.0", which is not a number'],
    ['1e1', 'has "1e1", which is not a number'],
    ['*/x5', 'has step "x5", which is not a whole number'],
    ['*/5x', 'has step "5x", which is not a whole number'],
    ['*/1/2', 'has more than one "/" in "*/1/2"'],
    ['1-2-3', 'has "1-2-3", a range with more than two ends'],
  ])('minute %s is not a plain whole number: %s', (minute, why) => {
    expect(cronProblem(`${minute} 7 * * *`, CronDialect.AUTO_SCALING)?.what).toBe(`the minute field ${JSON.stringify(minute)} ${why}`);
  });

  test.each(['*/1 * * * *', '* * */31 * *', '0  7\t* *   MON ', '0 7 * * sun-sat', '0 7 * jan-dec *', '0,30 7 * * *'])('accepts %j', (expression) => {
    expect(cronProblem(expression, CronDialect.AUTO_SCALING)).toBeUndefined();
  });
});

describe('month and day names stand for their numbers', () => {
  const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
  const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
  // A range from a value to itself is valid and any other ends the wrong way round are not: N-NAME and NAME-N both
  // accepted pins NAME to N.
  test.each(MONTHS.map((name, i) => [name, i + 1]))('%s is month %d', (name, n) => {
    for (const dialect of [CronDialect.AUTO_SCALING, CronDialect.EVENTBRIDGE]) {
      const at = (month: string) => cronProblem(dialect === CronDialect.AUTO_SCALING ? `0 0 1 ${month} *` : `cron(0 0 1 ${month} ? *)`, dialect);
      expect(at(`${n}-${name}`)).toBeUndefined();
      expect(at(`${name}-${n}`)).toBeUndefined();
      expect(at(name.toLowerCase())).toBeUndefined();
    }
  });
  test.each(DAYS.map((name, i) => [name, i, i + 1]))('%s is day %d for Auto Scaling (SUN 0) and %d for EventBridge (SUN 1)', (name, asg, eb) => {
    const atAsg = (day: string) => cronProblem(`0 0 * * ${day}`, CronDialect.AUTO_SCALING);
    const atEb = (day: string) => cronProblem(`cron(0 0 ? * ${day} *)`, CronDialect.EVENTBRIDGE);
    expect(atAsg(`${asg}-${name}`)).toBeUndefined();
    expect(atAsg(`${name}-${asg}`)).toBeUndefined();
    expect(atEb(`${eb}-${name}`)).toBeUndefined();
    expect(atEb(`${name}-${eb}`)).toBeUndefined();
  });
  test('Auto Scaling also takes 7 for Sunday, but a name range cannot end on it by name', () => {
    expect(cronProblem('0 0 * * 7', CronDialect.AUTO_SCALING)).toBeUndefined();
    expect(cronProblem('0 0 * * SAT-SUN', CronDialect.AUTO_SCALING)?.what).toBe('the day-of-week field "SAT-SUN" has the range "SAT-SUN", whose start is after its end');
  });
});

describe('cronProblem, EventBridge: what and fix in full', () => {
  test.each<[string, string, string]>([
    ['cron()', '6 fields (minutes hours day-of-month month day-of-week year), got 0', `give exactly 6 fields separated by spaces, for example ${EB_EXAMPLE}`],
    ['0 7 ? * MON *', 'the expression must be cron(...) around six fields', `for example ${EB_EXAMPLE}`],
    ['xcron(0 7 ? * MON *)', 'the expression must be cron(...) around six fields', `for example ${EB_EXAMPLE}`],
    ['cron(0 7 ? * MON *)x', 'the expression must be cron(...) around six fields', `for example ${EB_EXAMPLE}`],
    [
      'cron(0 7 * * * *)',
      'exactly one of day-of-month and day-of-week must be "?", got "*" and "*"',
      'put "?" in the day field you do not use, for example cron(0 7 ? * MON-FRI *) or cron(0 7 1 * ? *)',
    ],
    [
      'cron(0 7 ? * ? *)',
      'exactly one of day-of-month and day-of-week must be "?", got "?" and "?"',
      'put "?" in the day field you do not use, for example cron(0 7 ? * MON-FRI *) or cron(0 7 1 * ? *)',
    ],
    ['cron(60 7 ? * MON *)', 'the minutes field "60" has 60, outside 0 to 59', `write minutes as ${syntax('0 to 59')}, for example ${EB_EXAMPLE}`],
    ['cron(0 7 ? 13 MON *)', 'the month field "13" has 13, outside 1 to 12', `write month as ${syntax('1 to 12', ' or a name (JAN-DEC)')}, for example ${EB_EXAMPLE}`],
    ['cron(0 7 L,1 * ? *)', 'the day-of-month field "L,1" uses "L" inside a list, where it is not allowed', `write day-of-month as ${syntax('1 to 31')}, for example ${EB_EXAMPLE}`],
    ['cron(0 0 ? * 1 */231)', 'the year field "*/231" has step 231, outside 1 to 230', `write year as ${syntax('1970 to 2199')}, for example ${EB_EXAMPLE}`],
  ])('%j', (expression, what, fix) => {
    expect(cronProblem(expression, CronDialect.EVENTBRIDGE)).toEqual({ what, fix });
  });

  test('a lower-case special form inside a list is named as written', () => {
    expect(cronProblem('cron(0 7 l,1 * ? *)', CronDialect.EVENTBRIDGE)?.what).toBe('the day-of-month field "l,1" uses "l" inside a list, where it is not allowed');
  });

  test.each([
    // day-of-month: L, LW, nW for n from 1 to 31, in either case
    ['0 7 l * ? *'],
    ['0 7 lw * ? *'],
    ['0 7 1W * ? *'],
    ['0 7 5W * ? *'],
    ['0 7 31W * ? *'],
    // day-of-week: L, nL, NAMEL, n#k and NAME#k with k from 1 to 5
    ['0 7 ? * l *'],
    ['0 7 ? * 7L *'],
    ['0 7 ? * fril *'],
    ['0 7 ? * SAT#5 *'],
    ['0 7 ? * 1#1 *'],
    // whitespace around the fields, and the year step at its limit
    [' 0 7 ? * MON * '],
    ['0 0 ? * 1 */230'],
  ])('accepts cron(%s)', (fields) => {
    expect(cronProblem(`cron(${fields})`, CronDialect.EVENTBRIDGE)).toBeUndefined();
    if (fields.startsWith(' ')) expect(cronProblem(` cron(${fields}) `, CronDialect.EVENTBRIDGE)).toBeUndefined();
  });

  test.each([
    ['0 7 0W * ? *', 'day-of-month', '"0W" has "0W", which is not a number'],
    ['0 7 32W * ? *', 'day-of-month', '"32W" has "32W", which is not a number'],
    ['0 7 1L * ? *', 'day-of-month', '"1L" has "1L", which is not a number'],
    ['0 7 L1 * ? *', 'day-of-month', '"L1" has "L1", which is not a number'],
    ['0 7 ? * 8L *', 'day-of-week', `"8L" has "8L", which is not a number or a name (${DAY_NAMES})`],
    ['0 7 ? * 6LX *', 'day-of-week', `"6LX" has "6LX", which is not a number or a name (${DAY_NAMES})`],
    ['0 7 ? * 3#12 *', 'day-of-week', `"3#12" has "3#12", which is not a number or a name (${DAY_NAMES})`],
    ['0 7 ? * 3#6 *', 'day-of-week', `"3#6" has "3#6", which is not a number or a name (${DAY_NAMES})`],
  ])('rejects cron(%s) in the %s field', (fields, field, why) => {
    expect(cronProblem(`cron(${fields})`, CronDialect.EVENTBRIDGE)?.what).toBe(`the ${field} field ${why}`);
  });
});

describe('schedules given to the validator', () => {
  test('an Auto Scaling schedule that is a token, and an events rate, are not parsed as cron', () => {
    const check = new PropsValidator('Thing');
    check.autoScalingSchedule('a', autoscaling.Schedule.expression(Token.asString({ Ref: 'Cron' })));
    check.eventsSchedule('b', events.Schedule.rate(Duration.hours(6)));
    check.eventsSchedule('c', events.Schedule.expression(Token.asString({ Ref: 'Cron' })));
    expect(check.hasProblems).toBe(false);
  });
});

describe('describe renders what JSON would not', () => {
  test.each([
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [true, 'true'],
  ])('%p as %s', (value, text) => {
    expect(describeValue(value)).toBe(text);
  });
});

describe('knownVpcCidrs', () => {
  test('adds literal secondary CIDR blocks of a new ec2.Vpc, not token or IPv6 ones, and no other resource', () => {
    const vpc = new ec2.Vpc(new Stack(new App(), 'S'), 'Vpc', { ipAddresses: ec2.IpAddresses.cidr('10.20.0.0/16'), maxAzs: 1 });
    new ec2.CfnVPCCidrBlock(vpc, 'Second', { vpcId: vpc.vpcId, cidrBlock: '10.21.0.0/16' });
    new ec2.CfnVPCCidrBlock(vpc, 'FromParameter', { vpcId: vpc.vpcId, cidrBlock: Token.asString({ Ref: 'Cidr' }) });
    new ec2.CfnVPCCidrBlock(vpc, 'Ipv6', { vpcId: vpc.vpcId, amazonProvidedIpv6CidrBlock: true });
    // A subnet's range is not the VPC's.
    new ec2.CfnSubnet(vpc, 'Extra', { vpcId: vpc.vpcId, cidrBlock: '10.30.0.0/24' });
    expect(knownVpcCidrs(vpc)).toEqual(['10.20.0.0/16', '10.21.0.0/16']);
  });

  test.each([
    ['192.168.100.128/25', ['192.168.100.128/25']],
    ['10.0.0.0', []],
    ['x10.0.0.0/16', []],
    ['10.0.0.0/16x', []],
    ['fd00::/8', []],
  ])('an imported VPC with vpcCidrBlock %j: %j (only IPv4 ranges)', (cidr, expected) => {
    const vpc = ec2.Vpc.fromVpcAttributes(new Stack(new App(), 'S'), 'Vpc', { vpcId: 'vpc-1', vpcCidrBlock: cidr, availabilityZones: ['eu-west-1a'] });
    expect(knownVpcCidrs(vpc)).toEqual(expected);
  });
});

describe('vpcHasSubnetType', () => {
  test('an imported VPC with private subnets only', () => {
    const vpc = ec2.Vpc.fromVpcAttributes(new Stack(new App(), 'S'), 'Vpc', { vpcId: 'vpc-1', availabilityZones: ['eu-west-1a'], privateSubnetIds: ['subnet-1'] });
    expect(vpcHasSubnetType(vpc, ec2.SubnetType.PUBLIC)).toBe(false);
    expect(vpcHasSubnetType(vpc, ec2.SubnetType.PRIVATE_ISOLATED)).toBe(false);
    expect(vpcHasSubnetType(vpc, ec2.SubnetType.PRIVATE_WITH_EGRESS)).toBe(true);
  });
});
