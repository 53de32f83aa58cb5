import { Token } from 'aws-cdk-lib';

/**
 * Collects every problem with a construct's props, then throws once with all of them.
 *
 * Each message names the prop, the value received, what is allowed and how to fix it,
 * so a user sees every mistake in one synth instead of fixing them one run at a time.
 */
export class PropsValidator {
  private readonly problems: string[] = [];

  constructor(private readonly constructName: string) {}

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
   */
  public capacityRange(props: { readonly minCapacity?: number; readonly maxCapacity?: number }, minCapacity: number, maxCapacity: number): void {
    this.integerInRange('minCapacity', props.minCapacity, 0, 10_000);
    this.integerInRange('maxCapacity', props.maxCapacity, 1, 10_000);
    this.check(minCapacity > maxCapacity, 'minCapacity', minCapacity, `at most maxCapacity (${maxCapacity})`, 'lower minCapacity or raise maxCapacity');
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
    throw new Error(`${this.constructName}: invalid props (${this.problems.length}):\n${lines}`);
  }
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
