import { Token, UnscopedValidationError, ValidationError, aws_autoscaling as autoscaling, aws_ec2 as ec2, aws_events as events } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** aws-cdk-lib's error name type (a branded literal string): every props error of this library carries one name. */
type ErrorName = ConstructorParameters<typeof ValidationError>[0];
const INVALID_PROPS = 'ResilientFleetInvalidProps' as ErrorName;

/**
 * Collects every problem with a construct's props, then throws once with all of them.
 *
 * Each message names the prop, the value received, what is allowed and how to fix it,
 * so a user sees every mistake in one synth instead of fixing them one run at a time.
 * The error is aws-cdk-lib's `ValidationError`, scoped to the construct when one is given,
 * so the CDK CLI prints the construct path instead of a bare stack trace.
 */
export class PropsValidator {
  private readonly problems: string[] = [];

  constructor(
    private readonly constructName: string,
    private readonly scope?: IConstruct,
  ) {}

  /** Records a problem when `bad` is true. */
  public check(bad: boolean, prop: string, value: unknown, allowed: string, fix: string): void {
    if (bad) {
      this.problems.push(`${prop}: got ${describe(value)}; allowed: ${allowed}. Fix: ${fix}`);
    }
  }

  /** Checks an integer range, skipping values that are still tokens. */
  public integerInRange(prop: string, value: number | undefined, min: number, max: number, fix?: string): void {
    if (value === undefined || Token.isUnresolved(value)) return;
    this.check(
      !Number.isInteger(value) || value < min || value > max,
      prop,
      value,
      `an integer from ${min} to ${max}`,
      fix ?? `set ${prop} to a whole number between ${min} and ${max}`,
    );
  }

  /**
   * Checks a group's capacity props: whole numbers in range, and the resolved minimum not above the resolved maximum.
   * Shared by every construct that sizes an Auto Scaling group, so the same mistake reads the same everywhere.
   * A capacity that is still a token (a CfnParameter) is known only at deploy time and is not compared.
   */
  public capacityRange(props: { readonly minCapacity?: number; readonly maxCapacity?: number }, minCapacity: number, maxCapacity: number): void {
    this.integerInRange('minCapacity', props.minCapacity, 0, 10_000);
    this.integerInRange('maxCapacity', props.maxCapacity, 1, 10_000);
    // A number token is a large negative double: compared as a number, a literal minimum is always "above" a token maximum.
    if (Token.isUnresolved(minCapacity) || Token.isUnresolved(maxCapacity)) return;
    this.check(minCapacity > maxCapacity, 'minCapacity', minCapacity, `at most maxCapacity (${maxCapacity})`, 'lower minCapacity or raise maxCapacity');
  }

  /**
   * Checks one scheduled capacity change against the group it changes. A value the action does not set keeps the
   * group's own (`groupMin`, `groupMax`), so an action that sets only `minCapacity` must stay at or below the group's
   * `maxCapacity`, one that sets only `maxCapacity` at or above its `minCapacity`, and `desiredCapacity` between the two.
   * AWS rejects such an action when it runs, long after the deploy: here it fails at synth.
   */
  public scheduledCapacity(
    at: string,
    action: { readonly minCapacity?: number; readonly maxCapacity?: number; readonly desiredCapacity?: number },
    groupMin: number,
    groupMax: number,
  ): void {
    const known = (n: number | undefined): n is number => n !== undefined && !Token.isUnresolved(n);
    const min = known(action.minCapacity) ? action.minCapacity : groupMin;
    const max = known(action.maxCapacity) ? action.maxCapacity : groupMax;
    const minFrom = known(action.minCapacity) ? `${at}.minCapacity` : 'the group\'s minCapacity';
    const maxFrom = known(action.maxCapacity) ? `${at}.maxCapacity` : 'the group\'s maxCapacity';
    if (Token.isUnresolved(min) || Token.isUnresolved(max)) return;
    if (known(action.minCapacity) && known(action.maxCapacity)) {
      this.check(min > max, `${at}.minCapacity`, min, `at most ${at}.maxCapacity (${max})`, 'swap or correct the two values');
    } else if (known(action.minCapacity)) {
      this.check(min > max, `${at}.minCapacity`, min, `at most ${maxFrom} (${max}), which stays in force because the action does not set maxCapacity`, `lower ${at}.minCapacity, or set ${at}.maxCapacity (or the group's maxCapacity) to at least ${min}`);
    } else if (known(action.maxCapacity)) {
      this.check(min > max, `${at}.maxCapacity`, max, `at least ${minFrom} (${min}), which stays in force because the action does not set minCapacity`, `raise ${at}.maxCapacity, or set ${at}.minCapacity to at most ${max}`);
    }
    if (known(action.desiredCapacity) && min <= max) {
      const d = action.desiredCapacity;
      this.check(d < min || d > max, `${at}.desiredCapacity`, d, `between ${minFrom} (${min}) and ${maxFrom} (${max})`, `set ${at}.desiredCapacity within that range, or set ${at}.minCapacity/${at}.maxCapacity around it`);
    }
  }

  /**
   * Checks the cron expression of an Auto Scaling scheduled action (`autoscaling.Schedule.cron(...)` or
   * `Schedule.expression('...')`): five Unix cron fields, each value, range, step and name in range.
   * Expressions that are still tokens are skipped.
   */
  public autoScalingSchedule(prop: string, schedule: autoscaling.Schedule | undefined): void {
    if (schedule === undefined || schedule === null) {
      this.check(true, prop, schedule, 'an autoscaling.Schedule (required)', `set ${prop}, for example Schedule.cron({ minute: '0', hour: '7', weekDay: 'MON-FRI' })`);
      return;
    }
    const expression = schedule.expressionString;
    if (typeof expression !== 'string') {
      // A JavaScript caller who passed the cron string itself (or another object): no Schedule, so no expressionString.
      this.check(true, prop, schedule, 'an autoscaling.Schedule (a string or other object is not one)', "build it with Schedule.expression('0 7 * * MON-FRI') or Schedule.cron({ minute: '0', hour: '7', weekDay: 'MON-FRI' })");
      return;
    }
    if (Token.isUnresolved(expression)) return;
    const problem = cronProblem(expression, CronDialect.AUTO_SCALING);
    if (problem) {
      this.check(true, prop, expression, `a 5-field Unix cron expression "minute hour day-of-month month day-of-week" (Auto Scaling Recurrence); ${problem.what}`, problem.fix);
    }
  }

  /**
   * Checks an EventBridge schedule (`events.Schedule.cron(...)`, `Schedule.expression('cron(...)')`): the six fields
   * of `cron(minutes hours day-of-month month day-of-week year)`, each in range, and exactly one of the two day fields
   * `?`. `rate(...)` and `at(...)` schedules and tokens are not checked here;
   * undefined or null (from JavaScript) is unset.
   */
  public eventsSchedule(prop: string, schedule: events.Schedule | undefined): void {
    if (schedule === undefined || schedule === null) return;
    const expression = schedule.expressionString;
    if (typeof expression !== 'string') {
      this.check(true, prop, schedule, 'an events.Schedule (a string or other object is not one)', "build it with events.Schedule.expression('cron(0 7 ? * MON-FRI *)') or events.Schedule.cron({ minute: '0', hour: '7', weekDay: 'MON-FRI' })");
      return;
    }
    if (Token.isUnresolved(expression) || !expression.startsWith('cron(')) return;
    const problem = cronProblem(expression, CronDialect.EVENTBRIDGE);
    if (problem) {
      this.check(true, prop, expression, `an EventBridge cron expression "cron(minutes hours day-of-month month day-of-week year)"; ${problem.what}`, problem.fix);
    }
  }

  /** Adds a free-form problem (already phrased with prop, value, allowed and fix). */
  public add(message: string): void {
    this.problems.push(message);
  }

  public get hasProblems(): boolean {
    return this.problems.length > 0;
  }

  /** Throws one error listing every problem, if there were any. */
  public throwIfAny(): void {
    if (this.problems.length === 0) return;
    const lines = this.problems.map((p) => `  - ${p}`).join('\n');
    const message = `${this.constructName}: invalid props (${this.problems.length}):\n${lines}`;
    throw this.scope ? new ValidationError(INVALID_PROPS, message, this.scope) : new UnscopedValidationError(INVALID_PROPS, message);
  }
}

/**
 * Checks, before a constructor touches its props, that JavaScript callers (who have no compiler to tell them) passed
 * every required prop: a missing one is a validation error naming it, never `TypeError: Cannot read properties of
 * undefined`. `required` maps each required prop to what it takes (with an example); all missing props are listed at once.
 */
export function requireProps<T extends object>(scope: IConstruct, constructName: string, props: T | undefined, required: { readonly [K in keyof T]?: string }): T {
  const check = new PropsValidator(constructName, scope);
  const given: Partial<T> = props !== null && typeof props === 'object' ? props : {};
  check.check(props === undefined || props === null || typeof props !== 'object', 'props', props, `a props object with ${Object.keys(required).join(', ')}`, `pass the props as the third argument: new ${constructName}(scope, id, { ... })`);
  for (const [prop, takes] of Object.entries(required) as Array<[keyof T & string, string]>) {
    const value = given[prop];
    check.check(value === undefined || value === null, prop, value, `${takes} (required)`, `pass ${prop}`);
  }
  check.throwIfAny();
  return props as T;
}

/**
 * The VPC's IPv4 ranges known at synth time: its `vpcCidrBlock` when that is a literal (imported VPCs), else the CIDR
 * configured on the underlying `AWS::EC2::VPC` of a `new ec2.Vpc` (whose `vpcCidrBlock` is a token), plus any literal
 * secondary CIDR blocks. Empty when nothing is known (for example an IPAM-allocated VPC, or one imported without
 * vpcCidrBlock).
 */
export function knownVpcCidrs(vpc: ec2.IVpc): string[] {
  const cidrs: string[] = [];
  let own: string | undefined;
  try {
    own = vpc.vpcCidrBlock;
  } catch {
    // Imported (fromVpcAttributes, or an old fromLookup context) without a vpcCidrBlock: the getter throws; nothing is known.
  }
  if (typeof own === 'string' && !Token.isUnresolved(own)) cidrs.push(own);
  const resource = vpc.node.defaultChild;
  if (cidrs.length === 0 && resource instanceof ec2.CfnVPC && typeof resource.cidrBlock === 'string' && !Token.isUnresolved(resource.cidrBlock)) {
    cidrs.push(resource.cidrBlock);
  }
  for (const child of vpc.node.children) {
    if (child instanceof ec2.CfnVPCCidrBlock && typeof child.cidrBlock === 'string' && !Token.isUnresolved(child.cidrBlock)) cidrs.push(child.cidrBlock);
  }
  return cidrs.filter((c) => IPV4_CIDR.test(c));
}

/** True when the VPC has at least one subnet of the type (a selection of that type would otherwise fail in aws-cdk-lib). */
export function vpcHasSubnetType(vpc: ec2.IVpc, type: ec2.SubnetType): boolean {
  switch (type) {
    case ec2.SubnetType.PRIVATE_ISOLATED:
      return vpc.isolatedSubnets.length > 0;
    case ec2.SubnetType.PUBLIC:
      return vpc.publicSubnets.length > 0;
    default:
      return vpc.privateSubnets.length > 0;
  }
}

const IPV4_CIDR = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;

/** Which cron syntax an expression is written in. */
export enum CronDialect {
  /** Auto Scaling scheduled actions (Recurrence): 5 Unix cron fields, day-of-week 0-7 (0 and 7 are Sunday). */
  AUTO_SCALING = 'AUTO_SCALING',
  /** EventBridge: `cron(...)` with 6 fields, day-of-week 1-7 (1 is Sunday), `?`, `L`, `W`, `#`, a year. */
  EVENTBRIDGE = 'EVENTBRIDGE',
}

/** What is wrong with an expression (for "allowed") and how to fix it. */
export interface CronProblem {
  readonly what: string;
  readonly fix: string;
}

interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names allowed for values, in order from `min` (JAN = 1, SUN = 0 or 1). */
  readonly names?: readonly string[];
  /** Special forms allowed as a whole item (EventBridge `?`, `L`, `15W`, `5L`, `3#2`). */
  readonly special?: RegExp;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const FIELDS: Record<CronDialect, readonly CronField[]> = {
  [CronDialect.AUTO_SCALING]: [
    { name: 'minute', min: 0, max: 59 },
    { name: 'hour', min: 0, max: 23 },
    { name: 'day-of-month', min: 1, max: 31 },
    { name: 'month', min: 1, max: 12, names: MONTHS },
    { name: 'day-of-week', min: 0, max: 7, names: [...DAYS, 'SUN'] },
  ],
  [CronDialect.EVENTBRIDGE]: [
    { name: 'minutes', min: 0, max: 59 },
    { name: 'hours', min: 0, max: 23 },
    { name: 'day-of-month', min: 1, max: 31, special: /^(\?|L|LW|([1-9]|[12]\d|3[01])W)$/ },
    { name: 'month', min: 1, max: 12, names: MONTHS },
    { name: 'day-of-week', min: 1, max: 7, names: DAYS, special: /^(\?|L|[1-7]L|(SUN|MON|TUE|WED|THU|FRI|SAT)L|([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)#[1-5])$/ },
    { name: 'year', min: 1970, max: 2199 },
  ],
};

const EXAMPLE: Record<CronDialect, string> = {
  [CronDialect.AUTO_SCALING]: "Schedule.cron({ minute: '0', hour: '7', weekDay: 'MON-FRI' }) or Schedule.expression('0 7 * * MON-FRI')",
  [CronDialect.EVENTBRIDGE]: "events.Schedule.cron({ minute: '0', hour: '7', weekDay: 'MON-FRI' }) or events.Schedule.expression('cron(0 7 ? * MON-FRI *)')",
};

/**
 * What is wrong with a cron expression in the given dialect, or undefined when every field is valid.
 * Each field is a `,` list of items; an item is `*`, a value, or a range `a-b`, optionally with a step `/n`
 * (`*` and `a/n` too); values are numbers in the field's range or, for month and day-of-week, three-letter names.
 */
export function cronProblem(expression: string, dialect: CronDialect): CronProblem | undefined {
  const fields = FIELDS[dialect];
  const example = EXAMPLE[dialect];
  let body = expression.trim();
  if (dialect === CronDialect.AUTO_SCALING) {
    if (/^(cron|rate|at)\(/.test(body)) {
      return {
        what: 'EventBridge syntax such as cron(...) or rate(...) is not accepted by Auto Scaling',
        fix: `write the five fields without cron(...), and "*" rather than "?", for example ${example}`,
      };
    }
  } else {
    const m = /^cron\((.*)\)$/.exec(body);
    if (!m) return { what: 'the expression must be cron(...) around six fields', fix: `for example ${example}` };
    body = m[1].trim();
  }
  const parts = body.split(/\s+/).filter((p) => p.length > 0);
  if (parts.length !== fields.length) {
    return {
      what: `${fields.length} fields (${fields.map((f) => f.name).join(' ')}), got ${parts.length}`,
      fix: `give exactly ${fields.length} fields separated by spaces, for example ${example}`,
    };
  }
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    const problem = fieldProblem(parts[i], field);
    if (problem) {
      return {
        what: `the ${field.name} field ${JSON.stringify(parts[i])} ${problem}`,
        fix: `write ${field.name} as ${fieldSyntax(field)}, for example ${example}`,
      };
    }
  }
  if (dialect === CronDialect.EVENTBRIDGE) {
    const [dom, dow] = [parts[2], parts[4]];
    if ((dom === '?') === (dow === '?')) {
      return {
        what: `exactly one of day-of-month and day-of-week must be "?", got ${JSON.stringify(dom)} and ${JSON.stringify(dow)}`,
        fix: `put "?" in the day field you do not use, for example cron(0 7 ? * MON-FRI *) or cron(0 7 1 * ? *)`,
      };
    }
  }
  return undefined;
}

/** The syntax a field accepts, for a fix message. */
function fieldSyntax(field: CronField): string {
  const unique = [...new Set(field.names ?? [])];
  const names = unique.length > 0 ? ` or a name (${unique[0]}-${unique[unique.length - 1]})` : '';
  return `a value from ${field.min} to ${field.max}${names}, a range (a-b), a list (a,b), * or a step (*/n)`;
}

/** Why one field is invalid, or undefined. */
function fieldProblem(text: string, field: CronField): string | undefined {
  if (field.special?.test(text.toUpperCase())) return undefined;
  for (const item of text.split(',')) {
    if (item === '') return 'has an empty list item';
    if (field.special?.test(item.toUpperCase())) return `uses ${JSON.stringify(item)} inside a list, where it is not allowed`;
    const [range, step, ...extra] = item.split('/');
    if (extra.length > 0) return `has more than one "/" in ${JSON.stringify(item)}`;
    if (step !== undefined) {
      if (!/^\d+$/.test(step)) return `has step ${JSON.stringify(step)}, which is not a whole number`;
      const n = Number(step);
      if (n < 1 || n > field.max - field.min + 1) return `has step ${n}, outside 1 to ${field.max - field.min + 1}`;
    }
    if (range === '*') continue;
    const ends = range.split('-');
    if (ends.length > 2) return `has ${JSON.stringify(range)}, a range with more than two ends`;
    const values: number[] = [];
    for (const end of ends) {
      const value = fieldValue(end, field);
      if (value === undefined) {
        return /^\d+$/.test(end)
          ? `has ${end}, outside ${field.min} to ${field.max}`
          : `has ${JSON.stringify(end)}, which is not ${field.names ? `a number or a name (${[...new Set(field.names)].join(', ')})` : 'a number'}`;
      }
      values.push(value);
    }
    if (values.length === 2 && values[0] > values[1]) return `has the range ${JSON.stringify(range)}, whose start is after its end`;
  }
  return undefined;
}

/** The numeric value of a field value (number or name), or undefined when it is not one. */
function fieldValue(text: string, field: CronField): number | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n >= field.min && n <= field.max ? n : undefined;
  }
  const index = field.names ? field.names.indexOf(text.toUpperCase()) : -1;
  return index >= 0 ? field.min + index : undefined;
}

/** Renders a received value for an error message. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
