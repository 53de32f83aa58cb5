/**
 * Every AWS service that publishes to an SNS topic of the reference site may use that topic's KMS key: CloudWatch for
 * alarm actions, the Auto Scaling service-linked role for group notifications, EventBridge for rule targets. Checked on
 * the synthesized templates, following each action to its topic (also across stacks), the topic to its key, the key to
 * its policy.
 */
import { App } from 'aws-cdk-lib';
import { buildReferenceSite, SITE_ENV } from '../bin/site';
import { testApp } from './helpers';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Templates = Record<string, Json>;
type Publisher = 'cloudwatch' | 'autoscaling' | 'events';

const SLR = `arn:aws:iam::${SITE_ENV.account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`;

function synthTemplates(build: (app: App) => void = (app) => buildReferenceSite(app)): Templates {
  const app = testApp({ builtinCloudFormationValidation: false });
  build(app);
  const assembly = app.synth();
  return Object.fromEntries(assembly.stacks.map((s) => [s.stackName, JSON.parse(JSON.stringify(s.template)) as Json]));
}

/** A template value as a plain string, with the pseudo parameters of the site's fixed environment. */
function evaluate(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Json;
    if (v.Ref === 'AWS::Partition') return 'aws';
    if (v.Ref === 'AWS::AccountId') return SITE_ENV.account;
    if (v.Ref === 'AWS::Region') return SITE_ENV.region;
    if (Array.isArray(v['Fn::Join'])) {
      const parts = (v['Fn::Join'][1] as unknown[]).map(evaluate);
      return parts.some((p) => p === undefined) ? undefined : parts.join(v['Fn::Join'][0]);
    }
  }
  return undefined;
}

/** Follows a Ref / GetAtt, also through Fn::ImportValue to the exporting stack, to [stack, logical id]. */
function resolveResource(templates: Templates, stack: string, value: unknown): [string, string] | undefined {
  const v = value as Json;
  if (v && typeof v.Ref === 'string' && templates[stack].Resources?.[v.Ref]) return [stack, v.Ref];
  if (v && Array.isArray(v['Fn::GetAtt']) && templates[stack].Resources?.[v['Fn::GetAtt'][0]]) return [stack, v['Fn::GetAtt'][0]];
  if (v && v['Fn::ImportValue'] !== undefined) {
    const name = evaluate(v['Fn::ImportValue']);
    for (const [other, t] of Object.entries(templates)) {
      for (const out of Object.values((t.Outputs ?? {}) as Record<string, Json>)) {
        if (evaluate(out.Export?.Name) === name) return resolveResource(templates, other, out.Value);
      }
    }
  }
  return undefined;
}

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const globMatch = (pattern: string, text: string) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.?+^$()[\]{}|\\]/g, '\\$&')).join('.*')}$`).test(text);

/** Whether one key policy statement lets `publisher` call kms:Decrypt and kms:GenerateDataKey* (for the alarm `sourceArn`). */
function statementAllows(st: Json, publisher: Publisher, sourceArn: string): boolean {
  if (st.Effect !== 'Allow') return false;
  const actions = asList<string>(st.Action);
  const covers = (needed: string) => actions.some((a) => a === 'kms:*' || a === '*' || globMatch(a, needed));
  if (!covers('kms:Decrypt') || !covers('kms:GenerateDataKey')) return false;
  const cond = (st.Condition ?? {}) as Record<string, Record<string, unknown>>;
  const condValues = (op: string, key: string) => asList(cond[op]?.[key]).map(evaluate);
  // Every condition must hold for the request this publisher makes; keys it does not send fail the statement.
  for (const [op, entries] of Object.entries(cond)) {
    for (const [key, raw] of Object.entries(entries)) {
      const wanted = asList(raw).map(evaluate);
      const actual =
        key === 'aws:SourceAccount' && publisher === 'cloudwatch' ? SITE_ENV.account
          : key === 'aws:SourceArn' && publisher === 'cloudwatch' ? sourceArn
            : key === 'aws:PrincipalArn' && publisher === 'autoscaling' ? SLR
              : key === 'aws:PrincipalAccount' ? SITE_ENV.account
                : undefined;
      if (actual === undefined) return false;
      const ok = op.startsWith('Arn') || op.startsWith('StringLike') ? wanted.some((w) => w !== undefined && globMatch(w, actual)) : wanted.includes(actual);
      if (!ok) return false;
    }
  }
  const principal = st.Principal as Json | string;
  const services = typeof principal === 'object' ? asList<string>(principal.Service) : [];
  const aws = typeof principal === 'object' ? asList(principal.AWS).map(evaluate) : [];
  if (publisher === 'cloudwatch') return services.includes('cloudwatch.amazonaws.com');
  if (publisher === 'events') return services.includes('events.amazonaws.com');
  // The service-linked role: named as the principal, or any principal narrowed to it by aws:PrincipalArn.
  if (aws.includes(SLR)) return true;
  return (principal === '*' || aws.includes('*')) && condValues('ArnEquals', 'aws:PrincipalArn').concat(condValues('StringEquals', 'aws:PrincipalArn')).includes(SLR);
}

interface Publication {
  readonly where: string;
  readonly publisher: Publisher;
  readonly stack: string;
  readonly topic: unknown;
  readonly sourceArn: string;
}

/** Every place where an AWS service publishes to an SNS topic. */
function publications(templates: Templates): Publication[] {
  const out: Publication[] = [];
  for (const [stack, t] of Object.entries(templates)) {
    for (const [id, r] of Object.entries((t.Resources ?? {}) as Record<string, Json>)) {
      const p = r.Properties ?? {};
      if (r.Type === 'AWS::CloudWatch::Alarm') {
        for (const prop of ['AlarmActions', 'OKActions', 'InsufficientDataActions']) {
          for (const action of asList(p[prop])) {
            out.push({ where: `${stack}/${id}.${prop}`, publisher: 'cloudwatch', stack, topic: action, sourceArn: `arn:aws:cloudwatch:${SITE_ENV.region}:${SITE_ENV.account}:alarm:${id}` });
          }
        }
      }
      if (r.Type === 'AWS::AutoScaling::AutoScalingGroup') {
        for (const n of asList<Json>(p.NotificationConfigurations)) out.push({ where: `${stack}/${id}.NotificationConfigurations`, publisher: 'autoscaling', stack, topic: n.TopicARN, sourceArn: '' });
      }
      if (r.Type === 'AWS::Events::Rule') {
        for (const target of asList<Json>(p.Targets)) out.push({ where: `${stack}/${id}.Targets.${target.Id}`, publisher: 'events', stack, topic: target.Arn, sourceArn: '' });
      }
    }
  }
  return out;
}

/** The problems: publications to an SNS topic whose key policy does not let the publisher use the key. */
function topicKeyProblems(templates: Templates): { checked: Publication[]; problems: string[] } {
  const checked: Publication[] = [];
  const problems: string[] = [];
  for (const pub of publications(templates)) {
    const target = resolveResource(templates, pub.stack, pub.topic);
    const targetType = target ? templates[target[0]].Resources[target[1]].Type : undefined;
    if (!target) {
      // Not a resource of the app: an SNS ARN here cannot be checked and counts as a problem; other ARNs are not topics.
      const arn = evaluate(pub.topic);
      if (arn === undefined || arn.startsWith('arn:aws:sns:')) problems.push(`${pub.where}: cannot follow ${JSON.stringify(pub.topic)} to a topic of the site`);
      continue;
    }
    if (targetType !== 'AWS::SNS::Topic') continue; // a scaling policy, a Lambda function, a state machine
    checked.push(pub);
    const [topicStack, topicId] = target;
    const keyRef = templates[topicStack].Resources[topicId].Properties?.KmsMasterKeyId;
    if (keyRef === undefined) continue; // not encrypted at rest: nothing to allow (cdk-nag asks for a key)
    const key = resolveResource(templates, topicStack, keyRef);
    if (!key) {
      problems.push(`${pub.where}: topic ${topicStack}/${topicId} uses key ${JSON.stringify(keyRef)}, whose policy is not in the site`);
      continue;
    }
    const policy = templates[key[0]].Resources[key[1]].Properties.KeyPolicy as Json;
    if (!asList<Json>(policy.Statement).some((st) => statementAllows(st, pub.publisher, pub.sourceArn))) {
      problems.push(`${pub.where}: the policy of key ${key[0]}/${key[1]} (topic ${topicStack}/${topicId}) does not let ${pub.publisher} use it`);
    }
  }
  return { checked, problems };
}

describe('the reference site: every AWS service that publishes to a topic may use its key', () => {
  const templates = synthTemplates();

  test('every alarm action, Auto Scaling notification and EventBridge SNS target reaches a topic whose key lets its publisher use it', () => {
    const { checked, problems } = topicKeyProblems(templates);
    expect(problems).toEqual([]);
    const publishers = (p: Publisher) => checked.filter((c) => c.publisher === p).map((c) => c.where);
    // The database alarms (the eight and the dead letters), both app copies' and the workers' notifications.
    expect(publishers('cloudwatch').filter((w) => w.startsWith('Data/')).length).toBeGreaterThanOrEqual(9);
    expect(publishers('autoscaling')).toEqual(expect.arrayContaining([expect.stringMatching(/^App-blue\//), expect.stringMatching(/^App-green\//), expect.stringMatching(/^Workers\//)]));
    // The hooks' dead-letter alarms of the app copies notify the fleet's topic.
    expect(publishers('cloudwatch').filter((w) => /^App-blue\/.*DeadLetters/.test(w)).length).toBeGreaterThanOrEqual(2);
  });

  test('fails when the Data stack alarm key names only the account root (as it did)', () => {
    const broken: Templates = JSON.parse(JSON.stringify(templates));
    const keys = Object.values(broken.Data.Resources as Record<string, Json>).filter((r) => r.Type === 'AWS::KMS::Key');
    let removed = 0;
    for (const k of keys) {
      const before = k.Properties.KeyPolicy.Statement.length;
      k.Properties.KeyPolicy.Statement = k.Properties.KeyPolicy.Statement.filter((st: Json) => !JSON.stringify(st.Principal).includes('cloudwatch.amazonaws.com'));
      removed += before - k.Properties.KeyPolicy.Statement.length;
    }
    expect(removed).toBeGreaterThan(0);
    const { problems } = topicKeyProblems(broken);
    expect(problems.length).toBeGreaterThanOrEqual(9);
    expect(problems.every((p) => p.startsWith('Data/') && p.includes('does not let cloudwatch use it'))).toBe(true);
  });

  test('fails when a notification key lets a different role (not the Auto Scaling service-linked role) use it', () => {
    const broken: Templates = JSON.parse(JSON.stringify(templates));
    for (const r of Object.values(broken.Workers.Resources as Record<string, Json>)) {
      if (r.Type !== 'AWS::KMS::Key') continue;
      for (const st of r.Properties.KeyPolicy.Statement as Json[]) {
        if (st.Condition?.ArnEquals?.['aws:PrincipalArn']) st.Condition.ArnEquals['aws:PrincipalArn'] = `arn:aws:iam::${SITE_ENV.account}:role/someone-else`;
      }
    }
    expect(topicKeyProblems(broken).problems).toEqual([expect.stringMatching(/^Workers\/.*NotificationConfigurations: .*does not let autoscaling use it/)]);
  });

  test('fails on a CloudWatch statement conditioned on another account', () => {
    const broken: Templates = JSON.parse(JSON.stringify(templates));
    for (const r of Object.values(broken.Data.Resources as Record<string, Json>)) {
      if (r.Type !== 'AWS::KMS::Key') continue;
      for (const st of r.Properties.KeyPolicy.Statement as Json[]) if (st.Condition?.StringEquals?.['aws:SourceAccount']) st.Condition.StringEquals['aws:SourceAccount'] = '210987654321';
    }
    expect(topicKeyProblems(broken).problems.length).toBeGreaterThanOrEqual(9);
  });

  test('an EventBridge rule with an SNS target is checked too: a topic key without events.amazonaws.com fails', () => {
    const broken: Templates = JSON.parse(JSON.stringify(templates));
    const data = broken.Data.Resources as Record<string, Json>;
    const topicId = Object.keys(data).find((id) => data[id].Type === 'AWS::SNS::Topic')!;
    data.ExtraRule = { Type: 'AWS::Events::Rule', Properties: { ScheduleExpression: 'rate(1 hour)', Targets: [{ Id: 'Target0', Arn: { Ref: topicId } }] } };
    expect(topicKeyProblems(broken).problems).toEqual([expect.stringMatching(/^Data\/ExtraRule\.Targets\.Target0: .*does not let events use it/)]);
  });
});

describe('the reference site hands its constructs only topics whose keys they can see', () => {
  test('no topicKeyUnverified warning in any stack (the per-construct tests show the warning for an imported topic)', () => {
    const app = testApp({ builtinCloudFormationValidation: false });
    buildReferenceSite(app);
    const warnings = app.synth().stacks.flatMap((s) => s.messages.filter((m) => /topicKeyUnverified/.test(JSON.stringify(m.entry))));
    expect(warnings).toEqual([]);
  });
});
