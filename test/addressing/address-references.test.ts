import { Match, Template } from 'aws-cdk-lib/assertions';
import { AddressReferences, AddressStack } from '../../lib';
import { TEST_ENV, testApp, testStack } from '../helpers';

function consumer() {
  const app = testApp();
  const addresses = new AddressStack(app, 'Addresses', { env: TEST_ENV, zoneName: 'example.com' });
  addresses.addElasticIp('edge');
  const stack = testStack(app, 'Compute');
  return { app, addresses, stack };
}

describe('AddressReferences', () => {
  test('referencesIn reads the zone id from SSM at deploy time and makes the consumer deploy after the address stack', () => {
    const { addresses, stack } = consumer();
    const refs = addresses.referencesIn(stack, 'Addresses');
    expect(refs.privateZone).toBeUndefined();
    expect(refs.publicZone.zoneName).toBe('example.com');
    const t = Template.fromStack(stack);
    t.hasParameter('*', { Type: 'AWS::SSM::Parameter::Value<String>', Default: '/resilient-fleet/addresses/example.com/zones/public/id' });
    expect(stack.dependencies).toContain(addresses);
    expect(JSON.stringify(t.toJSON())).not.toMatch(/Fn::ImportValue|Fn::GetStackOutput/);
  });

  test('adds a template parameter only for what the consumer uses', () => {
    const { addresses, stack } = consumer();
    addresses.referencesIn(stack, 'Addresses');
    const params = Template.fromStack(stack).findParameters('*', { Type: 'AWS::SSM::Parameter::Value<String>' });
    expect(Object.values(params).map((p) => p.Default).filter((d) => String(d).startsWith('/resilient-fleet/'))).toEqual([]);
  });

  test('Elastic IP allocation id and address come from SSM parameters', () => {
    const { addresses, stack } = consumer();
    const refs = addresses.referencesIn(stack, 'Addresses');
    refs.elasticIpAllocationId('edge');
    refs.elasticIpAddress('edge');
    const t = Template.fromStack(stack);
    t.hasParameter('*', { Default: '/resilient-fleet/addresses/example.com/elastic-ips/edge/allocation-id' });
    t.hasParameter('*', { Default: '/resilient-fleet/addresses/example.com/elastic-ips/edge/address' });
    expect(refs.parameterName('elastic-ips/edge/address')).toBe('/resilient-fleet/addresses/example.com/elastic-ips/edge/address');
  });

  test('the private zone is available when the address stack has one', () => {
    const stack = testStack();
    const refs = new AddressReferences(stack, 'Refs', { parameterPrefix: '/site/addresses', zoneName: 'example.com.', privateZone: true });
    expect(refs.privateZone?.zoneName).toBe('example.com');
    Template.fromStack(stack).hasParameter('*', { Default: '/site/addresses/zones/private/id', Type: Match.stringLikeRegexp('SSM') });
  });

  test('fails on an Elastic IP the address stack does not have', () => {
    const { addresses, stack } = consumer();
    const refs = addresses.referencesIn(stack, 'Addresses');
    expect(() => refs.elasticIpAllocationId('db')).toThrow(/name: got "db"; allowed: one of the AddressStack's Elastic IPs \("edge"\)/);
  });

  test('fails on a parameterPrefix or zoneName that is not a plain value', () => {
    const stack = testStack();
    expect(() => new AddressReferences(stack, 'A', { parameterPrefix: 'site', zoneName: 'example.com' })).toThrow(/parameterPrefix: got "site"/);
    expect(() => new AddressReferences(stack, 'B', { parameterPrefix: '/site', zoneName: 'not a zone' })).toThrow(/zoneName: got "not a zone"/);
  });
});
