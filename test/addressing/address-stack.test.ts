import { Duration } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AddressStack, BlueGreen, NameVisibility } from '../../lib';
import { TEST_ENV, importedVpc, testApp, testStack } from '../helpers';

function addressStack(props: Partial<ConstructorParameters<typeof AddressStack>[2]> = {}, withVpc = false) {
  const app = testApp();
  const network = testStack(app, 'Network');
  const vpc = importedVpc(network);
  const stack = new AddressStack(app, 'Addresses', {
    env: TEST_ENV,
    zoneName: 'example.com',
    ...(withVpc ? { privateZoneVpcs: [vpc] } : {}),
    ...props,
  });
  return { app, stack, vpc };
}

describe('AddressStack', () => {
  test('at defaults: a retained public zone, its id in SSM, termination protection', () => {
    const { stack } = addressStack();
    const t = Template.fromStack(stack);
    expect(stack.terminationProtection).toBe(true);
    t.hasResource('AWS::Route53::HostedZone', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain', Properties: { Name: 'example.com.' } });
    t.hasResourceProperties('AWS::SSM::Parameter', { Name: '/resilient-fleet/addresses/example.com/zones/public/id' });
    t.resourceCountIs('AWS::Route53::HostedZone', 1);
    expect(t.toJSON()).toMatchSnapshot();
  });

  test('terminationProtection can be turned off explicitly', () => {
    expect(addressStack({ terminationProtection: false }).stack.terminationProtection).toBe(false);
  });

  test('privateZoneVpcs adds a retained private zone of the same name, with its id in SSM', () => {
    const { stack } = addressStack({}, true);
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::Route53::HostedZone', 2);
    t.hasResource('AWS::Route53::HostedZone', {
      DeletionPolicy: 'Retain',
      Properties: { Name: 'example.com.', VPCs: [Match.objectLike({ VPCId: 'vpc-0123456789abcdef0' })] },
    });
    t.hasResourceProperties('AWS::SSM::Parameter', { Name: '/resilient-fleet/addresses/example.com/zones/private/id' });
  });

  test('parameterPrefix names the SSM parameters', () => {
    const t = Template.fromStack(addressStack({ parameterPrefix: '/site/addresses' }).stack);
    t.hasResourceProperties('AWS::SSM::Parameter', { Name: '/site/addresses/zones/public/id' });
  });

  test('addElasticIp: a retained EIP, its allocation id and address in SSM, and an optional name', () => {
    const { stack } = addressStack();
    const eip = stack.addElasticIp('edge', { recordName: 'edge' });
    expect(stack.elasticIp('edge')).toBe(eip);
    const t = Template.fromStack(stack);
    t.hasResource('AWS::EC2::EIP', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain', Properties: { Domain: 'vpc' } });
    t.hasResourceProperties('AWS::SSM::Parameter', { Name: '/resilient-fleet/addresses/example.com/elastic-ips/edge/allocation-id' });
    t.hasResourceProperties('AWS::SSM::Parameter', { Name: '/resilient-fleet/addresses/example.com/elastic-ips/edge/address' });
    t.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'edge.example.com.', Type: 'A', TTL: '60' });
  });

  test('addCname builds a chain with the stack TTL (60 s by default) or its own', () => {
    const { stack } = addressStack();
    stack.addCname('www.site1', 'www-cluster3.example.com');
    stack.addCname('static', 'cdn.example.net', { ttl: Duration.seconds(30) });
    const t = Template.fromStack(stack);
    t.hasResource('AWS::Route53::RecordSet', {
      DeletionPolicy: 'Retain',
      Properties: { Name: 'www.site1.example.com.', Type: 'CNAME', TTL: '60', ResourceRecords: ['www-cluster3.example.com'] },
    });
    t.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'static.example.com.', TTL: '30' });
  });

  test('recordTtl sets the default TTL', () => {
    const { stack } = addressStack({ recordTtl: Duration.seconds(20) });
    stack.addCname('www', 'www-cluster3.example.com');
    Template.fromStack(stack).hasResourceProperties('AWS::Route53::RecordSet', { TTL: '20' });
  });

  test('with a private zone, names go to both zones by default, or to the one asked for', () => {
    const { stack } = addressStack({}, true);
    stack.addCname('www.site1', 'www-cluster3.example.com');
    stack.addARecord('app-fixed', ['10.0.0.5'], { visibility: NameVisibility.PRIVATE });
    stack.addARecord('front', ['203.0.113.10'], { visibility: NameVisibility.PUBLIC });
    const t = Template.fromStack(stack);
    expect(Object.keys(t.findResources('AWS::Route53::RecordSet', { Properties: { Name: 'www.site1.example.com.' } }))).toHaveLength(2);
    expect(Object.keys(t.findResources('AWS::Route53::RecordSet', { Properties: { Name: 'app-fixed.example.com.' } }))).toHaveLength(1);
    t.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'front.example.com.', ResourceRecords: ['203.0.113.10'] });
  });

  test('addBlueGreenName: two weighted CNAMEs, all weight on the active copy', () => {
    const { stack } = addressStack();
    const records = stack.addBlueGreenName('app-cluster3', { blueTarget: 'app-blue.example.com', greenTarget: 'app-green.example.com', active: BlueGreen.GREEN });
    expect(records.blue).toHaveLength(1);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'app-cluster3.example.com.', SetIdentifier: 'blue', Weight: 0, ResourceRecords: ['app-blue.example.com'] });
    t.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'app-cluster3.example.com.', SetIdentifier: 'green', Weight: 100, ResourceRecords: ['app-green.example.com'] });
  });

  test('activeWeight makes a weighted step of a gradual swap, changing weights only (same logical ids)', () => {
    const step = (active: BlueGreen, activeWeight?: number) => {
      const { stack } = addressStack();
      stack.addBlueGreenName('app-cluster3', { blueTarget: 'app-blue.example.com', greenTarget: 'app-green.example.com', active, activeWeight });
      return Template.fromStack(stack).findResources('AWS::Route53::RecordSet');
    };
    const before = step(BlueGreen.BLUE);
    const during = step(BlueGreen.GREEN, 10);
    expect(Object.keys(during)).toEqual(Object.keys(before));
    const weights = Object.values(during).map((r) => `${r.Properties.SetIdentifier}=${r.Properties.Weight}`).sort();
    expect(weights).toEqual(['blue=90', 'green=10']);
  });

  test('fqdn qualifies relative names and keeps full ones', () => {
    const { stack } = addressStack();
    expect(stack.fqdn('www-cluster3')).toBe('www-cluster3.example.com');
    expect(stack.fqdn('WWW.example.com.')).toBe('www.example.com');
  });

  test('warns when a TTL is high', () => {
    const { stack } = addressStack({ recordTtl: Duration.minutes(10) });
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('recordTtl is 600 seconds'));
  });
});

describe('AddressStack validation', () => {
  test('fails when zoneName is not a domain', () => {
    expect(() => addressStack({ zoneName: 'https://example.com/' })).toThrow(/zoneName: got "https:\/\/example.com\/"; allowed: a domain name/);
    expect(() => addressStack({ zoneName: 'localhost' })).toThrow(/zoneName/);
  });

  test('fails when privateZoneVpcs is empty', () => {
    expect(() => addressStack({ privateZoneVpcs: [] })).toThrow(/privateZoneVpcs: got \[\]; allowed: at least one VPC/);
  });

  test('fails when parameterPrefix is not a plain path', () => {
    expect(() => addressStack({ parameterPrefix: 'no-slash/' })).toThrow(/parameterPrefix: got "no-slash\/"/);
    expect(() => addressStack({ parameterPrefix: '/aws/reserved' })).toThrow(/parameterPrefix/);
  });

  test('fails when recordTtl is out of range', () => {
    expect(() => addressStack({ recordTtl: Duration.days(3) })).toThrow(/recordTtl: got "259200 seconds"; allowed: 0 to 172800/);
  });

  test('collects every problem in one error', () => {
    expect(() => addressStack({ zoneName: 'bad name', privateZoneVpcs: [] })).toThrow(/invalid props \(2\)/);
  });

  test('addElasticIp fails on a bad or repeated name', () => {
    const { stack } = addressStack();
    expect(() => stack.addElasticIp('edge ip')).toThrow(/name: got "edge ip"/);
    stack.addElasticIp('edge');
    expect(() => stack.addElasticIp('edge')).toThrow(/a name used once per stack/);
  });

  test('addARecord fails without values or with something that is not IPv4', () => {
    const { stack } = addressStack();
    expect(() => stack.addARecord('front', [])).toThrow(/values: got \[\]; allowed: at least one IPv4 address/);
    expect(() => stack.addARecord('front', ['300.1.1.1'])).toThrow(/values: got "300.1.1.1"/);
  });

  test('addCname fails on a bad name, a bad target, a loop, or a name added twice', () => {
    const { stack } = addressStack();
    expect(() => stack.addCname('bad_name', 'x.example.com')).toThrow(/recordName: got "bad_name"/);
    expect(() => stack.addCname('www', 'not a name')).toThrow(/target: got "not a name"/);
    expect(() => stack.addCname('www', 'www.example.com')).toThrow(/a name other than the record itself/);
    expect(() => stack.addCname('other', 'x.example.org.', { ttl: Duration.days(3) })).toThrow(/ttl: got "259200 seconds"/);
    expect(() => stack.addCname('api.example.org.', 'x.example.com')).toThrow(/a name inside example.com/);
    stack.addCname('www', 'www-cluster3.example.com');
    expect(() => stack.addCname('www.example.com', 'elsewhere.example.com')).toThrow(/a name added once per zone/);
  });

  test('fails on a CNAME at the zone apex', () => {
    const { stack } = addressStack();
    expect(() => stack.addCname('example.com', 'www.example.com')).toThrow(/recordName: got "example.com"; allowed: a name below the zone apex/);
    expect(() => stack.addBlueGreenName('example.com', { blueTarget: 'a.example.com', greenTarget: 'b.example.com', active: BlueGreen.BLUE })).toThrow(/zone apex/);
  });

  test('fails when a name asks for the private zone and there is none', () => {
    const { stack } = addressStack();
    expect(() => stack.addCname('db-master', 'db-master-cluster3.example.com', { visibility: NameVisibility.PRIVATE })).toThrow(
      /visibility: got "PRIVATE"; allowed: NameVisibility.PUBLIC when the stack has no private zone/,
    );
  });

  test('addBlueGreenName fails on equal targets, a bad active value or weight', () => {
    const { stack } = addressStack();
    const base = { blueTarget: 'app-blue.example.com', greenTarget: 'app-green.example.com', active: BlueGreen.BLUE };
    expect(() => stack.addBlueGreenName('a', { ...base, greenTarget: 'app-blue.example.com' })).toThrow(/greenTarget: got "app-blue.example.com"; allowed: a name other than blueTarget/);
    expect(() => stack.addBlueGreenName('b', { ...base, active: 'purple' as BlueGreen })).toThrow(/active: got "purple"/);
    expect(() => stack.addBlueGreenName('c', { ...base, activeWeight: 0 })).toThrow(/activeWeight: got 0; allowed: an integer from 1 to 100/);
    expect(() => stack.addBlueGreenName('d', { ...base, blueTarget: 'bad target' })).toThrow(/blueTarget: got "bad target"/);
  });
});
