import { aws_ec2 as ec2 } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { MultiAzFleet, MultiAzFleetProps } from '../../lib';
import { TEST_AMI, importedVpc, testStack } from '../helpers';

const t = (name: string) => new ec2.InstanceType(name);

function build(extra: Partial<MultiAzFleetProps> = {}) {
  const stack = testStack();
  new MultiAzFleet(stack, 'Fleet', { vpc: importedVpc(stack), machineImage: ec2.MachineImage.genericLinux(TEST_AMI), ...extra });
  return Template.fromStack(stack);
}

function asgOf(template: Template): Record<string, unknown> {
  const groups = Object.values(template.findResources('AWS::AutoScaling::AutoScalingGroup')) as Array<{ Properties: Record<string, unknown> }>;
  expect(groups).toHaveLength(1);
  return groups[0].Properties;
}

describe('MultiAzFleet capacity from several instance types and Spot', () => {
  test('keeps a plain launch template when neither instanceTypes nor spot is set', () => {
    const asg = asgOf(build());
    expect(asg.MixedInstancesPolicy).toBeUndefined();
    expect(asg.LaunchTemplate).toBeDefined();
    expect(asg.CapacityRebalance).toBeUndefined();
  });

  test('instanceTypes launch On-Demand from every type in order of preference', () => {
    const template = build({ instanceTypes: [t('m7i.large'), t('m6i.large'), t('m5.large')] });
    const asg = asgOf(template);
    expect(asg.LaunchTemplate).toBeUndefined();
    expect(asg.CapacityRebalance).toBeUndefined();
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MixedInstancesPolicy: {
        LaunchTemplate: {
          LaunchTemplateSpecification: Match.objectLike({ LaunchTemplateId: Match.anyValue() }),
          Overrides: [{ InstanceType: 'm7i.large' }, { InstanceType: 'm6i.large' }, { InstanceType: 'm5.large' }],
        },
        InstancesDistribution: {
          OnDemandAllocationStrategy: 'prioritized',
          OnDemandBaseCapacity: 0,
          OnDemandPercentageAboveBaseCapacity: 100,
        },
      },
    });
    // The launch template names the most preferred type; the overrides decide.
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({ InstanceType: 'm7i.large', MetadataOptions: Match.objectLike({ HttpTokens: 'required' }) }),
    });
  });

  test('spot launches Spot above the On-Demand base, price-capacity-optimized, with capacity rebalancing on', () => {
    const template = build({ instanceTypes: [t('c7g.large'), t('c6g.large')], spot: true, onDemandBaseCapacity: 1 });
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      CapacityRebalance: true,
      MixedInstancesPolicy: {
        LaunchTemplate: Match.objectLike({ Overrides: [{ InstanceType: 'c7g.large' }, { InstanceType: 'c6g.large' }] }),
        InstancesDistribution: {
          OnDemandAllocationStrategy: 'prioritized',
          OnDemandBaseCapacity: 1,
          OnDemandPercentageAboveBaseCapacity: 0,
          SpotAllocationStrategy: 'price-capacity-optimized',
        },
      },
    });
  });

  test('spot with a single instanceType still uses a mixed instances policy; capacityRebalance can be turned off', () => {
    const template = build({ instanceType: t('m6i.large'), spot: true, capacityRebalance: false });
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      CapacityRebalance: false,
      MixedInstancesPolicy: Match.objectLike({
        LaunchTemplate: Match.objectLike({ Overrides: [{ InstanceType: 'm6i.large' }] }),
        InstancesDistribution: Match.objectLike({ OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 0 }),
      }),
    });
  });

  describe('fails at synth time when', () => {
    test('both instanceType and instanceTypes are set', () => {
      expect(() => build({ instanceType: t('m5.large'), instanceTypes: [t('m6i.large')] })).toThrow(/instanceType: got "m5.large"; allowed: either instanceType or instanceTypes/);
    });
    test('instanceTypes is empty', () => {
      expect(() => build({ instanceTypes: [] })).toThrow(/instanceTypes: got \[\]; allowed: 1 to 40 instance types/);
    });
    test('instanceTypes has more than 40 types', () => {
      const many = Array.from({ length: 41 }, (_, i) => t(`m${i}.large`));
      expect(() => build({ instanceTypes: many })).toThrow(/instanceTypes: got .*allowed: 1 to 40 instance types/);
    });
    test('instanceTypes repeats a type', () => {
      expect(() => build({ instanceTypes: [t('m5.large'), t('m5.large')] })).toThrow(/instanceTypes: .*allowed: each instance type once\. Fix: remove the repeated m5.large/);
    });
    test('instanceTypes mixes CPU architectures', () => {
      expect(() => build({ instanceTypes: [t('m7g.large'), t('m6i.large')] })).toThrow(/instanceTypes: got \["m7g.large","m6i.large"\]; allowed: types of one CPU architecture/);
    });
    test('onDemandBaseCapacity is set without spot', () => {
      expect(() => build({ onDemandBaseCapacity: 1 })).toThrow(/onDemandBaseCapacity: got 1; allowed: only together with spot: true/);
    });
    test('onDemandBaseCapacity is negative or fractional', () => {
      expect(() => build({ spot: true, onDemandBaseCapacity: -1 })).toThrow(/onDemandBaseCapacity: got -1; allowed: an integer from 0 to 10000/);
      expect(() => build({ spot: true, onDemandBaseCapacity: 1.5 })).toThrow(/onDemandBaseCapacity: got 1.5; allowed: an integer/);
    });
    test('capacityRebalance is set without spot', () => {
      expect(() => build({ capacityRebalance: true })).toThrow(/capacityRebalance: got true; allowed: only together with spot: true/);
    });
  });
});
