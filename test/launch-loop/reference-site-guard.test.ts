import { Match, Template } from 'aws-cdk-lib/assertions';
import { AppStack, buildReferenceSite } from '../../bin/site';
import { testApp } from '../helpers';

test('the reference site guards its app fleet against launch loops, CodeDeploy included', () => {
  const app = testApp();
  buildReferenceSite(app);
  const appStacks = app.node.children.filter((c): c is AppStack => c instanceof AppStack);
  expect(appStacks.length).toBeGreaterThan(0);
  for (const stack of appStacks) {
    expect(stack.launchLoopGuard.node.path).toBe(`${stack.node.id}/Fleet/LaunchLoopGuard`);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Events::Rule', { EventPattern: Match.objectLike({ source: ['aws.autoscaling'] }) });
    t.hasResourceProperties('AWS::Events::Rule', { EventPattern: Match.objectLike({ source: ['aws.codedeploy'] }) });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ShortLivedLaunchesInWindow', Threshold: 3 });
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ CIRCUIT_BREAKER: 'SUSPEND_LAUNCH' }) } });
  }
});
