import { App, Errors, Stack, Token, aws_autoscaling as autoscaling, aws_ec2 as ec2, aws_events as events } from 'aws-cdk-lib';
import { CronDialect, PropsValidator, cronProblem, knownVpcCidrs, requireProps, vpcHasSubnetType } from '../../lib/private/validation';
import { importedVpc, testStack } from '../helpers';

const asg = (e: string) => cronProblem(e, CronDialect.AUTO_SCALING);
const eb = (e: string) => cronProblem(`cron(${e})`, CronDialect.EVENTBRIDGE);

/** Every problem the validator collected, as the thrown message. */
function problemsOf(fill: (check: PropsValidator) => void): string {
  const check = new PropsValidator('Thing');
  fill(check);
  try {
    check.throwIfAny();
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

describe('cronProblem, Auto Scaling (5 Unix fields)', () => {
  test.each([
    ['0 7 * * MON-FRI'],
    ['59 23 31 12 7'],
    ['0 0 1 1 0'],
    ['*/15 0-23/2 1,15 JAN-DEC SUN-SAT'],
    ['0 7 * * mon-fri'],
    ['*/60 * * * *'],
    ['5/10 * * * *'],
    ['0 7 * * 1-5'],
  ])('accepts %s', (e) => {
    expect(asg(e)).toBeUndefined();
  });

  test.each([
    ['* 25 * * *', 'hour', '25, outside 0 to 23'],
    ['* 24 * * *', 'hour', '24, outside 0 to 23'],
    ['60 * * * *', 'minute', '60, outside 0 to 59'],
    ['0 0 0 * *', 'day-of-month', '0, outside 1 to 31'],
    ['0 0 32 * *', 'day-of-month', '32, outside 1 to 31'],
    ['0 0 * 0 *', 'month', '0, outside 1 to 12'],
    ['0 0 * 13 *', 'month', '13, outside 1 to 12'],
    ['0 0 * * 8', 'day-of-week', '8, outside 0 to 7'],
    ['0 7 * * MON-FRY', 'day-of-week', '"FRY", which is not a number or a name'],
    ['0 7 * JANUARY *', 'month', '"JANUARY", which is not a number or a name'],
    ['0 7 * * 5-1', 'day-of-week', 'whose start is after its end'],
    ['*/0 * * * *', 'minute', 'step 0, outside 1 to 60'],
    ['*/61 * * * *', 'minute', 'step 61, outside 1 to 60'],
    ['*/x * * * *', 'minute', 'not a whole number'],
    ['*/5/2 * * * *', 'minute', 'more than one "/"'],
    ['1-2-3 * * * *', 'minute', 'more than two ends'],
    ['1,,2 * * * *', 'minute', 'empty list item'],
    ['0 7 ? * MON', 'day-of-month', '"?", which is not a number'],
  ])('rejects %s in the %s field', (e, field, why) => {
    const p = asg(e);
    expect(p?.what).toContain(`the ${field} field`);
    expect(p?.what).toContain(why);
    expect(p?.fix).toContain(`write ${field} as`);
  });

  test('rejects EventBridge cron(...) and rate(...) syntax with a fix', () => {
    expect(asg('cron(0 7 ? * MON-FRI *)')?.what).toMatch(/not accepted by Auto Scaling/);
    expect(asg('rate(5 minutes)')?.fix).toMatch(/without cron\(\.\.\.\)/);
  });

  test('rejects four or six fields, saying how many it got', () => {
    expect(asg('0 7 * *')?.what).toBe('5 fields (minute hour day-of-month month day-of-week), got 4');
    expect(asg('0 7 * * * 2030')?.what).toMatch(/got 6/);
  });
});

describe('cronProblem, EventBridge (cron(6 fields))', () => {
  test.each([
    ['0 7 ? * MON-FRI *'],
    ['0 7 1 * ? *'],
    ['59 23 31 12 ? 2199'],
    ['0 0 ? 1 1 1970'],
    ['0 0 ? * 7 *'],
    ['0 7 L * ? *'],
    ['0 7 15W * ? *'],
    ['0 7 LW * ? *'],
    ['0 7 ? * 6L *'],
    ['0 7 ? * FRIL *'],
    ['0 7 ? * 3#2 *'],
    ['0 7 ? * MON#1 *'],
  ])('accepts cron(%s)', (e) => {
    expect(eb(e)).toBeUndefined();
  });

  test.each([
    ['* 25 ? * * *', 'hours'],
    ['0 7 ? * MON-FRY *', 'day-of-week'],
    ['0 7 ? * 0 *', 'day-of-week'],
    ['0 7 ? * 8 *', 'day-of-week'],
    ['0 7 ? * 3#6 *', 'day-of-week'],
    ['0 7 32W * ? *', 'day-of-month'],
    ['0 7 1 * ? 1969', 'year'],
    ['0 7 1 * ? 2200', 'year'],
    ['0 7 L,1 * ? *', 'day-of-month'],
  ])('rejects cron(%s) in the %s field', (e, field) => {
    expect(eb(e)?.what).toContain(`the ${field} field`);
  });

  test('needs exactly one of the day fields to be "?"', () => {
    expect(eb('0 7 * * * *')?.what).toMatch(/exactly one of day-of-month and day-of-week must be "\?"/);
    expect(eb('0 7 ? * ? *')?.what).toMatch(/exactly one/);
  });

  test('needs cron(...) around six fields', () => {
    expect(cronProblem('0 7 ? * MON *', CronDialect.EVENTBRIDGE)?.what).toMatch(/cron\(\.\.\.\) around six fields/);
    expect(eb('0 7 ? * MON')?.what).toMatch(/6 fields .* got 5/);
  });
});

describe('PropsValidator schedules', () => {
  test("Schedule.cron({ hour: '25' }) fails naming the prop, the value, what is allowed and the fix", () => {
    const msg = problemsOf((c) => c.autoScalingSchedule('schedule[0].schedule', autoscaling.Schedule.cron({ hour: '25', minute: '0' })));
    expect(msg).toContain('schedule[0].schedule: got "0 25 * * *"; allowed: a 5-field Unix cron expression');
    expect(msg).toContain('the hour field "25" has 25, outside 0 to 23');
    expect(msg).toMatch(/Fix: write hour as a value from 0 to 23/);
  });

  test("Schedule.expression('0 7 * * MON-FRY') fails", () => {
    expect(problemsOf((c) => c.autoScalingSchedule('s', autoscaling.Schedule.expression('0 7 * * MON-FRY')))).toMatch(/s: got "0 7 \* \* MON-FRY".*"FRY"/);
  });

  test('a missing schedule is a required prop; a valid one and a token pass', () => {
    expect(problemsOf((c) => c.autoScalingSchedule('s', undefined))).toMatch(/s: got undefined; allowed: an autoscaling.Schedule \(required\)/);
    expect(problemsOf((c) => c.autoScalingSchedule('s', autoscaling.Schedule.cron({ hour: '7', minute: '0', weekDay: 'MON-FRI' })))).toBe('');
    expect(problemsOf((c) => c.autoScalingSchedule('s', autoscaling.Schedule.expression(Token.asString({ Ref: 'Cron' }))))).toBe('');
  });

  test('events schedules: cron checked, rate and at not, tokens skipped, undefined allowed', () => {
    expect(problemsOf((c) => c.eventsSchedule('verifySchedule', events.Schedule.cron({ hour: '25' })))).toMatch(/verifySchedule: got "cron\(\* 25 \* \* \? \*\)".*hours field "25"/);
    expect(problemsOf((c) => c.eventsSchedule('v', events.Schedule.expression('cron(0 7 ? * MON-FRY *)')))).toMatch(/"FRY"/);
    expect(problemsOf((c) => c.eventsSchedule('v', events.Schedule.cron({ hour: '7', minute: '0' })))).toBe('');
    expect(problemsOf((c) => c.eventsSchedule('v', events.Schedule.expression('rate(6 hours)')))).toBe('');
    expect(problemsOf((c) => c.eventsSchedule('v', events.Schedule.expression(Token.asString({ Ref: 'S' }))))).toBe('');
    expect(problemsOf((c) => c.eventsSchedule('v', undefined))).toBe('');
  });

  test('a token inside an events cron expression skips the check (its hours are known at deploy time)', () => {
    const hours = Token.asString({ Ref: 'Hour' });
    expect(problemsOf((c) => c.eventsSchedule('v', events.Schedule.expression(`cron(0 ${hours} ? * MON-FRI *)`)))).toBe('');
  });

  test('from JavaScript, a cron string where a Schedule belongs is a problem naming the prop, not a TypeError or a silent pass', () => {
    expect(problemsOf((c) => c.autoScalingSchedule('schedule[0].schedule', '0 7 * * MON-FRI' as never))).toBe(
      'Thing: invalid props (1):\n  - schedule[0].schedule: got "0 7 * * MON-FRI"; allowed: an autoscaling.Schedule (a string or other object is not one). '
        + "Fix: build it with Schedule.expression('0 7 * * MON-FRI') or Schedule.cron({ minute: '0', hour: '7', weekDay: 'MON-FRI' })",
    );
    expect(problemsOf((c) => c.eventsSchedule('verifySchedule', 'cron(0 7 ? * MON-FRI *)' as never))).toBe(
      'Thing: invalid props (1):\n  - verifySchedule: got "cron(0 7 ? * MON-FRI *)"; allowed: an events.Schedule (a string or other object is not one). '
        + "Fix: build it with events.Schedule.expression('cron(0 7 ? * MON-FRI *)') or events.Schedule.cron({ minute: '0', hour: '7', weekDay: 'MON-FRI' })",
    );
    expect(problemsOf((c) => c.eventsSchedule('verifySchedule', {} as never))).toMatch(/^Thing: invalid props \(1\):\n {2}- verifySchedule: got \{\}; allowed: an events.Schedule/);
  });

  test('from JavaScript, a null events schedule is unset like undefined (the construct then uses its default)', () => {
    expect(problemsOf((c) => c.eventsSchedule('verifySchedule', null as never))).toBe('');
  });
});

describe('PropsValidator.scheduledCapacity (group min 2, max 6)', () => {
  const run = (action: { minCapacity?: number; maxCapacity?: number; desiredCapacity?: number }) => problemsOf((c) => c.scheduledCapacity('schedule[0]', action, 2, 6));

  test('minCapacity alone: at the group maximum passes, one above fails naming the maximum in force', () => {
    expect(run({ minCapacity: 6 })).toBe('');
    expect(run({ minCapacity: 5 })).toBe('');
    expect(run({ minCapacity: 7 })).toMatch(/schedule\[0\]\.minCapacity: got 7; allowed: at most the group's maxCapacity \(6\).*Fix: lower schedule\[0\]\.minCapacity, or set schedule\[0\]\.maxCapacity/);
  });

  test('maxCapacity alone: at the group minimum passes, one below fails', () => {
    expect(run({ maxCapacity: 2 })).toBe('');
    expect(run({ maxCapacity: 3 })).toBe('');
    expect(run({ maxCapacity: 1 })).toMatch(/schedule\[0\]\.maxCapacity: got 1; allowed: at least the group's minCapacity \(2\)/);
  });

  test('both set: the action bounds itself, not the group', () => {
    expect(run({ minCapacity: 8, maxCapacity: 8 })).toBe('');
    expect(run({ minCapacity: 0, maxCapacity: 0, desiredCapacity: 0 })).toBe('');
    expect(run({ minCapacity: 9, maxCapacity: 8 })).toMatch(/schedule\[0\]\.minCapacity: got 9; allowed: at most schedule\[0\]\.maxCapacity \(8\)/);
  });

  test('desiredCapacity: at each bound passes, one outside fails', () => {
    expect(run({ desiredCapacity: 2 })).toBe('');
    expect(run({ desiredCapacity: 6 })).toBe('');
    expect(run({ desiredCapacity: 1 })).toMatch(/schedule\[0\]\.desiredCapacity: got 1; allowed: between the group's minCapacity \(2\) and the group's maxCapacity \(6\)/);
    expect(run({ desiredCapacity: 7 })).toMatch(/desiredCapacity: got 7/);
    expect(run({ minCapacity: 0, desiredCapacity: 0 })).toBe('');
    expect(run({ maxCapacity: 10, desiredCapacity: 10 })).toBe('');
    expect(run({ maxCapacity: 10, desiredCapacity: 11 })).toMatch(/between the group's minCapacity \(2\) and schedule\[0\]\.maxCapacity \(10\)/);
  });

  test("an action that sets neither bound adds no problem of its own when the group's minimum is above its maximum (the group's check reports that)", () => {
    expect(problemsOf((c) => c.scheduledCapacity('schedule[0]', { desiredCapacity: 3 }, 5, 2))).toBe('');
  });

  test('tokens are skipped', () => {
    const t = Token.asNumber({ Ref: 'N' });
    expect(run({ minCapacity: t })).toBe('');
    expect(run({ maxCapacity: t, desiredCapacity: 1 })).toMatch(/desiredCapacity: got 1/);
    expect(problemsOf((c) => c.scheduledCapacity('s', { minCapacity: 9 }, 0, t))).toBe('');
  });
});

describe('the thrown error', () => {
  test('is an aws-cdk-lib ValidationError carrying the construct path when scoped', () => {
    const stack = testStack();
    const check = new PropsValidator('Thing', stack);
    check.check(true, 'size', 3, 'at most 2', 'lower size');
    let error: unknown;
    try {
      check.throwIfAny();
    } catch (e) {
      error = e;
    }
    expect(Errors.isValidationError(error)).toBe(true);
    expect((error as { constructPath?: string }).constructPath).toBe('Test');
    expect((error as Error).message).toBe('Thing: invalid props (1):\n  - size: got 3; allowed: at most 2. Fix: lower size');
  });

  test('is still a ValidationError without a scope, and nothing is thrown without problems', () => {
    const check = new PropsValidator('Thing');
    expect(() => check.throwIfAny()).not.toThrow();
    check.add('free-form problem');
    expect(check.hasProblems).toBe(true);
    expect(() => check.throwIfAny()).toThrow(expect.objectContaining({ message: 'Thing: invalid props (1):\n  - free-form problem' }));
    try {
      check.throwIfAny();
    } catch (e) {
      expect(Errors.isValidationError(e)).toBe(true);
    }
  });
});

describe('requireProps', () => {
  const stack = () => new Stack(new App(), 'S');

  test('lists every missing required prop at once, for undefined and null', () => {
    const s = stack();
    expect(() => requireProps<{ a?: number; b?: number; c?: number }>(s, 'Thing', { a: undefined, b: null, c: 1 } as never, { a: 'an A', b: 'a B', c: 'a C' })).toThrow(
      'Thing: invalid props (2):\n  - a: got undefined; allowed: an A (required). Fix: pass a\n  - b: got null; allowed: a B (required). Fix: pass b',
    );
  });

  test('missing props object: says to pass one, and lists each required prop', () => {
    expect(() => requireProps<{ a?: number }>(stack(), 'Thing', undefined, { a: 'an A' })).toThrow(/props: got undefined; allowed: a props object with a\. Fix: pass the props as the third argument: new Thing\(scope, id, \{ \.\.\. \}\)[\s\S]*a: got undefined/);
  });

  test('returns the props when all are there (falsy values count as given)', () => {
    const props = { a: 0, b: '', c: false };
    expect(requireProps(stack(), 'Thing', props, { a: 'x', b: 'y', c: 'z' })).toBe(props);
  });
});

describe('knownVpcCidrs and vpcHasSubnetType', () => {
  test("reads a new ec2.Vpc's configured CIDR (its vpcCidrBlock is a token)", () => {
    const s = testStack();
    const vpc = new ec2.Vpc(s, 'Vpc', { ipAddresses: ec2.IpAddresses.cidr('10.20.0.0/16') });
    expect(Token.isUnresolved(vpc.vpcCidrBlock)).toBe(true);
    expect(knownVpcCidrs(vpc)).toEqual(['10.20.0.0/16']);
  });

  test("an imported VPC's literal CIDR; nothing for a looked-up token", () => {
    const s = testStack();
    expect(knownVpcCidrs(importedVpc(s))).toEqual(['10.0.0.0/16']);
    const tokenVpc = ec2.Vpc.fromVpcAttributes(s, 'T', { vpcId: 'vpc-1', vpcCidrBlock: Token.asString({ Ref: 'Cidr' }), availabilityZones: ['eu-west-1a'] });
    expect(knownVpcCidrs(tokenVpc)).toEqual([]);
  });

  test('nothing for a VPC imported without vpcCidrBlock (whose getter throws), rather than that error', () => {
    const vpc = ec2.Vpc.fromVpcAttributes(testStack(), 'NoCidr', { vpcId: 'vpc-1', availabilityZones: ['eu-west-1a'] });
    expect(() => vpc.vpcCidrBlock).toThrow(/'vpcCidrBlock' was not supplied/);
    expect(knownVpcCidrs(vpc)).toEqual([]);
  });

  test('a VPC without isolated subnets has none, one with them has', () => {
    const s = testStack();
    const noIsolated = new ec2.Vpc(s, 'A', { subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC }] });
    expect(vpcHasSubnetType(noIsolated, ec2.SubnetType.PRIVATE_ISOLATED)).toBe(false);
    expect(vpcHasSubnetType(noIsolated, ec2.SubnetType.PRIVATE_WITH_EGRESS)).toBe(false);
    expect(vpcHasSubnetType(noIsolated, ec2.SubnetType.PUBLIC)).toBe(true);
    const imported = importedVpc(s);
    expect(vpcHasSubnetType(imported, ec2.SubnetType.PRIVATE_ISOLATED)).toBe(true);
    expect(vpcHasSubnetType(imported, ec2.SubnetType.PRIVATE_WITH_EGRESS)).toBe(true);
  });
});
