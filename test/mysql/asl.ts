/**
 * A small interpreter of the Amazon States Language subset the ReplicatedMysql state machines use (Pass, Task, Choice,
 * Wait, Succeed, Fail; Parameters with `.$` paths, ResultPath, Retry, Catch), so tests run the synthesized definitions against
 * the real hook handlers. A path that is missing fails the run as Step Functions does (States.Runtime).
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Record<string, Record<string, unknown>>;
}

export class StatesError extends Error {
  constructor(public readonly error: string, public readonly cause: string) {
    super(`${error}: ${cause}`);
  }
}

/** The definitions of every state machine in the stack, by a part of their logical id. */
export function definitions(stack: Stack): Record<string, AslDefinition> {
  const out: Record<string, AslDefinition> = {};
  for (const [id, r] of Object.entries(Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine')) as Array<[string, { Properties: { DefinitionString: unknown } }]>) {
    const def = r.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] };
    const text = def['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'arn:aws:lambda:eu-west-1:123456789012:function:hook')).join('');
    out[id] = JSON.parse(text) as AslDefinition;
  }
  return out;
}

function readPath(input: unknown, path: string): unknown {
  if (path === '$') return input;
  if (!path.startsWith('$.')) throw new StatesError('States.Runtime', `unsupported path ${path}`);
  let cur: unknown = input;
  for (const part of path.slice(2).split('.')) {
    if (cur === null || typeof cur !== 'object' || !(part in (cur as Record<string, unknown>))) {
      throw new StatesError('States.Runtime', `The JSONPath '${path}' could not be found in the input`);
    }
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function pathExists(input: unknown, path: string): boolean {
  try {
    readPath(input, path);
    return true;
  } catch {
    return false;
  }
}

function applyParameters(params: unknown, input: unknown): unknown {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return params;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params as Record<string, unknown>)) {
    if (k.endsWith('.$')) out[k.slice(0, -2)] = readPath(input, v as string);
    else out[k] = applyParameters(v, input);
  }
  return out;
}

function writeResult(input: unknown, resultPath: unknown, result: unknown): unknown {
  if (resultPath === undefined || resultPath === '$') return result;
  if (resultPath === null) return input;
  const parts = (resultPath as string).slice(2).split('.');
  const copy = JSON.parse(JSON.stringify(input ?? {})) as Record<string, unknown>;
  let cur = copy;
  for (const p of parts.slice(0, -1)) {
    cur[p] = (cur[p] as Record<string, unknown>) ?? {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]] = result;
  return copy;
}

function choose(state: Record<string, unknown>, input: unknown): string {
  for (const rule of state.Choices as Array<Record<string, unknown>>) {
    const variable = rule.Variable as string;
    if ('IsPresent' in rule) {
      if (pathExists(input, variable) === rule.IsPresent) return rule.Next as string;
      continue;
    }
    if (!pathExists(input, variable)) throw new StatesError('States.Runtime', `Invalid path '${variable}': the choice state's condition path references an invalid value`);
    const value = readPath(input, variable);
    if ('BooleanEquals' in rule && value === rule.BooleanEquals) return rule.Next as string;
    if ('NumberGreaterThanEquals' in rule && typeof value === 'number' && value >= (rule.NumberGreaterThanEquals as number)) return rule.Next as string;
  }
  if (!state.Default) throw new StatesError('States.NoChoiceMatched', 'no choice matched');
  return state.Default as string;
}

export interface RunResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
  readonly path: string[];
}

/** Runs a definition; `invoke` stands for the Lambda the Task states call. Bounded by `maxTransitions`. */
export async function run(def: AslDefinition, input: unknown, invoke: (payload: unknown) => Promise<unknown>, maxTransitions = 500): Promise<RunResult> {
  let name = def.StartAt;
  let data: unknown = input;
  const path: string[] = [];
  for (let i = 0; i < maxTransitions; i++) {
    path.push(name);
    const state = def.States[name];
    if (!state) throw new Error(`no state ${name}`);
    try {
      switch (state.Type) {
        case 'Pass': {
          const result = 'Result' in state ? state.Result : 'Parameters' in state ? applyParameters(state.Parameters, data) : data;
          data = writeResult(data, state.ResultPath, result);
          break;
        }
        case 'Task': {
          const payload = 'Parameters' in state ? applyParameters(state.Parameters, data) : data;
          let result: unknown;
          const used = new Map<Record<string, unknown>, number>();
          for (;;) {
            try {
              result = await invoke(payload);
              break;
            } catch (err) {
              const failure = new StatesError(err instanceof StatesError ? err.error : 'Error', err instanceof Error ? err.message : String(err));
              // Retriers as Step Functions applies them (a Lambda function's own error counts as States.TaskFailed); no waiting.
              const retrier = ((state.Retry as Array<Record<string, unknown>>) ?? []).find((r) => (r.ErrorEquals as string[]).some((e) => e === 'States.ALL' || e === 'States.TaskFailed' || e === failure.error));
              const attempts = retrier ? used.get(retrier) ?? 0 : 0;
              if (!retrier || attempts >= ((retrier.MaxAttempts as number | undefined) ?? 3)) throw failure;
              used.set(retrier, attempts + 1);
            }
          }
          data = writeResult(data, state.ResultPath, result);
          break;
        }
        case 'Choice':
          name = choose(state, data);
          continue;
        case 'Wait':
          break;
        case 'Succeed':
          return { status: 'SUCCEEDED', output: data, path };
        case 'Fail':
          return { status: 'FAILED', error: state.Error as string, cause: state.Cause as string, path };
        default:
          throw new Error(`unsupported state type ${String(state.Type)}`);
      }
    } catch (err) {
      if (!(err instanceof StatesError)) throw err;
      const handler = ((state.Catch as Array<Record<string, unknown>>) ?? []).find((c) => (c.ErrorEquals as string[]).some((e) => e === 'States.ALL' || e === err.error || (e === 'States.TaskFailed' && err.error !== 'States.Runtime')));
      if (!handler || err.error === 'States.Runtime') return { status: 'FAILED', error: err.error, cause: err.cause, path };
      data = writeResult(data, handler.ResultPath, { Error: err.error, Cause: err.cause });
      name = handler.Next as string;
      continue;
    }
    if (state.End === true) return { status: 'SUCCEEDED', output: data, path };
    name = state.Next as string;
  }
  throw new Error(`no end after ${maxTransitions} transitions: ${path.slice(-10).join(' > ')}`);
}
