/**
 * Acceptance for issue 6 on the reference site: a blue/green swap changes only the Addresses stack, nothing imports
 * the Addresses stack's outputs, and deleting a compute stack leaves the Addresses stack's template as it was.
 */
import { App } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { buildReferenceSite, siteOptionsFromContext, type SiteOptions } from '../../bin/site';
import { mask } from '../../lib/testing/asset-hash-serializer';
import { testApp } from '../helpers';

interface Synth {
  /** Masked template text per stack. */
  readonly templates: Record<string, string>;
  readonly json: Record<string, { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>; Parameters?: Record<string, { Type: string; Default?: string }>; Outputs?: object }>;
  readonly dependencies: Record<string, string[]>;
}

function synth(options: SiteOptions = {}): Synth {
  const app = testApp();
  buildReferenceSite(app, options);
  const assembly = app.synth();
  const templates: Record<string, string> = {};
  const json: Synth['json'] = {};
  const dependencies: Record<string, string[]> = {};
  for (const stack of assembly.stacks) {
    templates[stack.stackName] = mask(JSON.stringify(stack.template, null, 1));
    json[stack.stackName] = stack.template;
    dependencies[stack.stackName] = stack.dependencies.map((d) => d.id).filter((id) => !id.endsWith('.assets'));
  }
  return { templates, json, dependencies };
}

const blue = synth({ active: 'blue' });
const green = synth({ active: 'green' });

function changedStacks(a: Synth, b: Synth): string[] {
  expect(Object.keys(b.templates).sort()).toEqual(Object.keys(a.templates).sort());
  return Object.keys(a.templates).filter((name) => a.templates[name] !== b.templates[name]).sort();
}

describe('blue/green on the reference site', () => {
  test('has a long-lived Addresses stack and two swappable app copies', () => {
    expect(Object.keys(blue.templates)).toEqual(expect.arrayContaining(['Network', 'Addresses', 'App-blue', 'App-green']));
  });

  test('swapping blue -> green changes only the Addresses stack', () => {
    expect(changedStacks(blue, green)).toEqual(['Addresses']);
  });

  test('a weighted step (green at 10 %) also changes only the Addresses stack', () => {
    expect(changedStacks(blue, synth({ active: 'green', activeWeight: 10 }))).toEqual(['Addresses']);
  });

  test('the swap is an in-place change of two weights: same resources, only Weight (and its comment) differ', () => {
    const before = blue.json.Addresses.Resources;
    const after = green.json.Addresses.Resources;
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    const changed = Object.keys(before).filter((id) => JSON.stringify(before[id]) !== JSON.stringify(after[id]));
    expect(changed).toHaveLength(2);
    for (const id of changed) {
      const { Weight: w1, Comment: c1, ...rest1 } = before[id].Properties as Record<string, unknown>;
      const { Weight: w2, Comment: c2, ...rest2 } = after[id].Properties as Record<string, unknown>;
      expect(rest2).toEqual(rest1);
      expect([w1, w2].sort()).toEqual([0, 100]);
      expect(c1).not.toEqual(c2);
    }
  });

  test('no template holds an Fn::ImportValue, and none reads an output of the Addresses stack', () => {
    for (const site of [blue, green]) {
      for (const [name, text] of Object.entries(site.templates)) {
        expect({ name, importValue: text.includes('Fn::ImportValue') }).toEqual({ name, importValue: false });
        expect(text).not.toMatch(/"StackName":\s*"Addresses"/);
      }
      expect(site.json.Addresses.Outputs).toBeUndefined();
    }
  });

  test('app copies find the zone through an SSM parameter the Addresses stack writes (a weak reference)', () => {
    const written = Object.values(blue.json.Addresses.Resources)
      .filter((r) => r.Type === 'AWS::SSM::Parameter')
      .map((r) => r.Properties!.Name);
    for (const copy of ['App-blue', 'App-green']) {
      const read = Object.values(blue.json[copy].Parameters ?? {})
        .filter((p) => p.Type === 'AWS::SSM::Parameter::Value<String>')
        .map((p) => p.Default);
      expect(read).toContain('/resilient-fleet/addresses/example.com/zones/private/id');
      for (const name of read.filter((n) => n?.startsWith('/resilient-fleet/addresses/'))) expect(written).toContain(name);
    }
  });

  test('deleting a compute stack from the app leaves the Addresses stack\'s template unchanged', () => {
    const full = blue.templates.Addresses;
    const onlyBlue = synth({ active: 'blue', appCopies: ['blue'] });
    const none = synth({ active: 'blue', appCopies: [] });
    expect(onlyBlue.templates['App-green']).toBeUndefined();
    expect(onlyBlue.templates.Addresses).toEqual(full);
    expect(none.templates.Addresses).toEqual(full);
  });

  test('warns, without failing, when the active copy is not in the app', () => {
    const { addresses } = buildReferenceSite(testApp(), { active: 'green', appCopies: ['blue'] });
    Annotations.fromStack(addresses).hasWarning('*', Match.stringLikeRegexp('active app copy "green" is not in this app'));
  });

  test('long-lived stacks never depend on replaceable ones', () => {
    for (const longLived of ['Network', 'Addresses']) {
      expect(blue.dependencies[longLived].filter((d) => d.startsWith('App-'))).toEqual([]);
    }
    expect(blue.dependencies['App-green']).toEqual(expect.arrayContaining(['Addresses', 'Network']));
  });

  test('the address stack is termination-protected and retains its zones, Elastic IP and names', () => {
    const app = testApp();
    const { addresses } = buildReferenceSite(app);
    expect(addresses.terminationProtection).toBe(true);
    const resources = blue.json.Addresses.Resources as Record<string, { Type: string; DeletionPolicy?: string; UpdateReplacePolicy?: string }>;
    const kept = Object.values(resources).filter((r) => ['AWS::Route53::HostedZone', 'AWS::EC2::EIP', 'AWS::Route53::RecordSet'].includes(r.Type));
    expect(kept.length).toBeGreaterThanOrEqual(8);
    for (const r of kept) expect([r.Type, r.DeletionPolicy, r.UpdateReplacePolicy]).toEqual([r.Type, 'Retain', 'Retain']);
  });

  test('the chain www.site1 -> www-cluster3 -> the edge Elastic IP, and app-cluster3 -> app-<copy>', () => {
    const records = Object.values(blue.json.Addresses.Resources).filter((r) => r.Type === 'AWS::Route53::RecordSet').map((r) => r.Properties!);
    expect(records).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Name: 'www.site1.example.com.', Type: 'CNAME', ResourceRecords: ['www-cluster3.example.com'], TTL: '60' }),
        expect.objectContaining({ Name: 'www-cluster3.example.com.', Type: 'A' }),
        expect.objectContaining({ Name: 'app-cluster3.example.com.', SetIdentifier: 'blue', Weight: 100, ResourceRecords: ['app-blue.example.com'] }),
        expect.objectContaining({ Name: 'app-cluster3.example.com.', SetIdentifier: 'green', Weight: 0, ResourceRecords: ['app-green.example.com'] }),
      ]),
    );
  });
});

describe('the edge on the reference site', () => {
  const edgeText = blue.templates.Edge;
  const edge = blue.json.Edge;

  test('references no App copy: it follows app-cluster3 by name, and deleting both copies leaves its template unchanged', () => {
    expect(blue.dependencies.Edge).toEqual(expect.arrayContaining(['Addresses', 'Network']));
    expect(blue.dependencies.Edge.filter((d) => d.startsWith('App-'))).toEqual([]);
    expect(edgeText).not.toMatch(/App-(blue|green)|AppBlue|AppGreen/);
    expect(edgeText).toContain('RFHA_BACKEND_NAME=app-cluster3.example.com');
    expect(edgeText).not.toContain('RFHA_BACKEND_GROUP');
    expect(Object.values(edge.Resources).filter((r) => r.Type === 'AWS::AutoScaling::LifecycleHook')).toEqual([]);
    expect(synth({ active: 'blue', appCopies: [] }).templates.Edge).toEqual(edgeText);
  });

  test('uses the Addresses stack\'s Elastic IP through its SSM parameter and creates none', () => {
    expect(Object.values(edge.Resources).filter((r) => r.Type === 'AWS::EC2::EIP')).toEqual([]);
    const read = Object.values(edge.Parameters ?? {}).filter((p) => p.Type === 'AWS::SSM::Parameter::Value<String>').map((p) => p.Default);
    expect(read).toContain('/resilient-fleet/addresses/example.com/elastic-ips/edge/allocation-id');
  });

  test('each App copy admits the Network stack\'s edge group on the backend ports and the check port; the Edge\'s nodes carry it', () => {
    for (const copy of ['App-blue', 'App-green']) {
      const rules = Object.values(blue.json[copy].Resources).filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress' && JSON.stringify(r.Properties).includes('EdgeSecurityGroup'));
      expect(rules.map((r) => [r.Properties!.FromPort, r.Properties!.ToPort]).sort()).toEqual([[80, 80], [9001, 9300]]);
    }
    const lts = Object.values(edge.Resources).filter((r) => r.Type === 'AWS::EC2::LaunchTemplate');
    expect(lts).toHaveLength(2);
    for (const lt of lts) expect(JSON.stringify(lt.Properties)).toContain('EdgeSecurityGroup');
    expect(Object.values(edge.Resources).filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress' && !JSON.stringify(r.Properties).includes('"112"'))).toEqual([]);
  });
});

describe('choosing the active copy from context', () => {
  const withContext = (context: Record<string, string>) => siteOptionsFromContext(new App({ context }));

  test('defaults to blue at full weight', () => {
    expect(withContext({})).toEqual({ active: 'blue', activeWeight: undefined });
  });

  test('reads -c active=green -c activeWeight=10', () => {
    expect(withContext({ active: 'green', activeWeight: '10' })).toEqual({ active: 'green', activeWeight: 10 });
  });

  test('fails on an unknown copy or a bad weight, saying how to fix it', () => {
    expect(() => withContext({ active: 'purple' })).toThrow(/context "active": got "purple"; allowed: "blue" or "green"/);
    expect(() => withContext({ activeWeight: '0' })).toThrow(/context "activeWeight": got "0"; allowed: a whole percentage from 1 to 100/);
  });
});
