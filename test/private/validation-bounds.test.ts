import { App, CfnParameter, Lazy, Stack, Token } from 'aws-cdk-lib';
import { CronDialect, PropsValidator, cronProblem, describe as describeValue } from '../../lib/private/validation';

// Every bound PropsValidator checks, exactly at it, one below and one above, and with a value that is still a token.
// The messages are written out: they are what a user reads at synth.

function problems(fill: (check: PropsValidator) => void): string[] {
  const check = new PropsValidator('Thing');
  fill(check);
  try {
    check.throwIfAny();
    return [];
  } catch (e) {
    return (e as Error).message.split('\n').slice(1).map((l) => l.replace(/^ {2}- /, ''));
  }
}

describe('integerInRange(prop, value, 1, 5)', () => {
  const range = (value: number | undefined) => problems((c) => c.integerInRange('size', value, 1, 5));

  test.each([1, 2, 5])('accepts %d (the bounds are inclusive)', (v) => {
    expect(range(v)).toEqual([]);
  });
  test('rejects one above the maximum, naming prop, value, range and fix', () => {
    expect(range(6)).toEqual(['size: got 6; allowed: an integer from 1 to 5. Fix: set size to a whole number between 1 and 5']);
  });
  test('rejects one below the minimum', () => {
    expect(range(0)).toEqual(['size: got 0; allowed: an integer from 1 to 5. Fix: set size to a whole number between 1 and 5']);
  });
  test('rejects a fraction inside the range', () => {
    expect(range(2.5)).toEqual(['size: got 2.5; allowed: an integer from 1 to 5. Fix: set size to a whole number between 1 and 5']);
  });
  test('rejects NaN and infinities', () => {
    expect(range(Number.NaN)).toHaveLength(1);
    expect(range(Number.POSITIVE_INFINITY)).toHaveLength(1);
  });
  test('a value left out is not checked', () => {
    expect(range(undefined)).toEqual([]);
  });
  test('a value that is still a token (a CloudFormation parameter) is not checked: it is known only at deploy time', () => {
    const token = Token.asNumber({ Ref: 'Size' });
    // A number token is a large negative double: checked as a number it would be out of range.
    expect(token).toBeLessThan(1);
    expect(range(token)).toEqual([]);
  });
  test('a custom fix replaces the default one', () => {
    expect(problems((c) => c.integerInRange('size', 9, 1, 5, 'use a smaller size'))).toEqual(['size: got 9; allowed: an integer from 1 to 5. Fix: use a smaller size']);
  });
});

describe('capacityRange: minCapacity 0 to 10,000, maxCapacity 1 to 10,000, min not above max', () => {
  const cap = (minCapacity: number | undefined, maxCapacity: number | undefined) =>
    problems((c) => c.capacityRange({ minCapacity, maxCapacity }, minCapacity ?? 1, maxCapacity ?? 3));

  test('the extremes are allowed', () => {
    expect(cap(0, 1)).toEqual([]);
    expect(cap(10_000, 10_000)).toEqual([]);
  });
  test('one past each extreme is not', () => {
    expect(cap(-1, 3)).toEqual(['minCapacity: got -1; allowed: an integer from 0 to 10000. Fix: set minCapacity to a whole number between 0 and 10000']);
    expect(cap(1, 10_001)).toEqual(['maxCapacity: got 10001; allowed: an integer from 1 to 10000. Fix: set maxCapacity to a whole number between 1 and 10000']);
    expect(cap(0, 0)).toEqual([
      'maxCapacity: got 0; allowed: an integer from 1 to 10000. Fix: set maxCapacity to a whole number between 1 and 10000',
    ]);
    expect(cap(10_001, 10_000)).toEqual([
      'minCapacity: got 10001; allowed: an integer from 0 to 10000. Fix: set minCapacity to a whole number between 0 and 10000',
      'minCapacity: got 10001; allowed: at most maxCapacity (10000). Fix: lower minCapacity or raise maxCapacity',
    ]);
  });
  test('min equal to max is allowed; one above is not', () => {
    expect(cap(4, 4)).toEqual([]);
    expect(cap(5, 4)).toEqual(['minCapacity: got 5; allowed: at most maxCapacity (4). Fix: lower minCapacity or raise maxCapacity']);
  });
});

describe('scheduledCapacity against a group of min 2, max 6', () => {
  const at = (action: { minCapacity?: number; maxCapacity?: number; desiredCapacity?: number }) => problems((c) => c.scheduledCapacity('s', action, 2, 6));

  test('min equal to max is allowed; min one above max is not', () => {
    expect(at({ minCapacity: 3, maxCapacity: 3 })).toEqual([]);
    expect(at({ minCapacity: 4, maxCapacity: 3 })).toEqual(['s.minCapacity: got 4; allowed: at most s.maxCapacity (3). Fix: swap or correct the two values']);
  });
  test('min alone may reach the group max, not pass it', () => {
    expect(at({ minCapacity: 6 })).toEqual([]);
    expect(at({ minCapacity: 7 })).toEqual([
      "s.minCapacity: got 7; allowed: at most the group's maxCapacity (6), which stays in force because the action does not set maxCapacity. Fix: lower s.minCapacity, or set s.maxCapacity (or the group's maxCapacity) to at least 7",
    ]);
  });
  test('max alone may go down to the group min, not below it', () => {
    expect(at({ maxCapacity: 2 })).toEqual([]);
    expect(at({ maxCapacity: 1 })).toEqual([
      "s.maxCapacity: got 1; allowed: at least the group's minCapacity (2), which stays in force because the action does not set minCapacity. Fix: raise s.maxCapacity, or set s.minCapacity to at most 1",
    ]);
  });
  test('desired may sit on either bound, not one past', () => {
    expect(at({ desiredCapacity: 2 })).toEqual([]);
    expect(at({ desiredCapacity: 6 })).toEqual([]);
    const outside = (d: number) =>
      `s.desiredCapacity: got ${d}; allowed: between the group's minCapacity (2) and the group's maxCapacity (6). Fix: set s.desiredCapacity within that range, or set s.minCapacity/s.maxCapacity around it`;
    expect(at({ desiredCapacity: 1 })).toEqual([outside(1)]);
    expect(at({ desiredCapacity: 7 })).toEqual([outside(7)]);
  });
  test('desired is checked against the action\'s own bounds when it sets them', () => {
    expect(at({ minCapacity: 0, maxCapacity: 0, desiredCapacity: 0 })).toEqual([]);
    expect(at({ minCapacity: 0, maxCapacity: 0, desiredCapacity: 1 })).toEqual([
      's.desiredCapacity: got 1; allowed: between s.minCapacity (0) and s.maxCapacity (0). Fix: set s.desiredCapacity within that range, or set s.minCapacity/s.maxCapacity around it',
    ]);
  });
  test('desired is not judged against bounds that already conflict (that problem is reported once)', () => {
    expect(at({ minCapacity: 5, maxCapacity: 4, desiredCapacity: 9 })).toHaveLength(1);
  });
  test('token values are skipped, in the action and in the group', () => {
    const t = Token.asNumber({ Ref: 'N' });
    expect(at({ minCapacity: t, desiredCapacity: 9 })).toEqual([
      "s.desiredCapacity: got 9; allowed: between the group's minCapacity (2) and the group's maxCapacity (6). Fix: set s.desiredCapacity within that range, or set s.minCapacity/s.maxCapacity around it",
    ]);
    expect(at({ maxCapacity: t, minCapacity: 9 })).toHaveLength(1);
    expect(at({ desiredCapacity: t })).toEqual([]);
    expect(problems((c) => c.scheduledCapacity('s', { minCapacity: 9, desiredCapacity: 9 }, 0, t))).toEqual([]);
    expect(problems((c) => c.scheduledCapacity('s', { maxCapacity: 1 }, t, 6))).toEqual([]);
  });
});

describe('the thrown message', () => {
  test('counts the problems and lists each on its own line', () => {
    const check = new PropsValidator('Fleet');
    check.integerInRange('a', 0, 1, 2);
    check.add('b: got 3; allowed: 4. Fix: 5');
    expect(check.hasProblems).toBe(true);
    expect(() => check.throwIfAny()).toThrow(
      'Fleet: invalid props (2):\n  - a: got 0; allowed: an integer from 1 to 2. Fix: set a to a whole number between 1 and 2\n  - b: got 3; allowed: 4. Fix: 5',
    );
  });
  test('no problems, no error', () => {
    const check = new PropsValidator('Fleet');
    check.check(false, 'a', 1, 'x', 'y');
    expect(check.hasProblems).toBe(false);
    expect(() => check.throwIfAny()).not.toThrow();
  });
  test.each([
    [undefined, 'undefined'],
    ['x"y', '"x\\"y"'],
    [3, '3'],
    [false, 'false'],
    [null, 'null'],
    [{ a: [1] }, '{"a":[1]}'],
  ])('describes %p as %s', (value, text) => {
    expect(describeValue(value)).toBe(text);
  });
  test('describes a value JSON cannot render', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(describeValue(circular)).toBe('[object Object]');
    expect(describeValue(10n)).toBe('10');
  });
});

describe('cron field bounds', () => {
  test.each([
    ['59 23 31 12 7', undefined],
    ['60 * * * *', 'the minute field "60" has 60, outside 0 to 59'],
    ['* 24 * * *', 'the hour field "24" has 24, outside 0 to 23'],
    ['* * 0 * *', 'the day-of-month field "0" has 0, outside 1 to 31'],
    ['* * 32 * *', 'the day-of-month field "32" has 32, outside 1 to 31'],
    ['* * * 13 *', 'the month field "13" has 13, outside 1 to 12'],
    ['* * * * 8', 'the day-of-week field "8" has 8, outside 0 to 7'],
    ['*/60 * * * *', undefined],
    ['*/61 * * * *', 'the minute field "*/61" has step 61, outside 1 to 60'],
    ['*/0 * * * *', 'the minute field "*/0" has step 0, outside 1 to 60'],
    ['5-5 * * * *', undefined],
    ['6-5 * * * *', 'the minute field "6-5" has the range "6-5", whose start is after its end'],
  ])('Auto Scaling %s', (expression, what) => {
    expect(cronProblem(expression, CronDialect.AUTO_SCALING)?.what).toBe(what);
  });
  test.each([
    ['cron(0 0 ? * 1 1970)', undefined],
    ['cron(0 0 ? * 7 2199)', undefined],
    ['cron(0 0 ? * 0 2026)', 'the day-of-week field "0" has 0, outside 1 to 7'],
    ['cron(0 0 ? * 1 1969)', 'the year field "1969" has 1969, outside 1970 to 2199'],
    ['cron(0 0 ? * 1 2200)', 'the year field "2200" has 2200, outside 1970 to 2199'],
  ])('EventBridge %s', (expression, what) => {
    expect(cronProblem(expression, CronDialect.EVENTBRIDGE)?.what).toBe(what);
  });
});

describe('values known only at deploy time pass untouched: a CfnParameter (valueAsNumber) and a Lazy number', () => {
  // Each token is a large negative double, and each new one is smaller than the last: compared as numbers, a token
  // minimum made first is "above" a token maximum made after it, and every literal is "above" any token.
  const tokens = () => {
    const stack = new Stack(new App(), 'S');
    return {
      first: new CfnParameter(stack, 'First', { type: 'Number' }).valueAsNumber,
      second: new CfnParameter(stack, 'Second', { type: 'Number' }).valueAsNumber,
      lazy: Lazy.number({ produce: () => 20_000 }),
    };
  };

  test('integerInRange skips them', () => {
    const t = tokens();
    expect(problems((c) => {
      c.integerInRange('size', t.first, 1, 5);
      c.integerInRange('size', t.lazy, 1, 5);
    })).toEqual([]);
  });

  test('capacityRange does not compare a token with a literal or with another token', () => {
    const t = tokens();
    const cap = (min: number, max: number) => problems((c) => c.capacityRange({ minCapacity: min, maxCapacity: max }, min, max));
    expect(cap(2, t.first)).toEqual([]);
    expect(cap(t.first, 3)).toEqual([]);
    expect(cap(t.first, t.second)).toEqual([]);
    expect(cap(t.lazy, 3)).toEqual([]);
    // The literal side is still checked on its own.
    expect(cap(10_001, t.first)).toEqual(['minCapacity: got 10001; allowed: an integer from 0 to 10000. Fix: set minCapacity to a whole number between 0 and 10000']);
  });

  test('scheduledCapacity skips an action value or a group bound that is a token', () => {
    const t = tokens();
    expect(problems((c) => c.scheduledCapacity('s', { minCapacity: t.first, maxCapacity: t.second }, 2, 6))).toEqual([]);
    expect(problems((c) => c.scheduledCapacity('s', { minCapacity: 3, maxCapacity: t.first, desiredCapacity: 4 }, 2, 6))).toEqual([]);
    expect(problems((c) => c.scheduledCapacity('s', { maxCapacity: 3, desiredCapacity: 2 }, t.first, 6))).toEqual([]);
    expect(problems((c) => c.scheduledCapacity('s', { desiredCapacity: t.lazy }, 2, 6))).toEqual([]);
    expect(problems((c) => c.scheduledCapacity('s', { minCapacity: 1 }, t.first, t.second))).toEqual([]);
  });
});
