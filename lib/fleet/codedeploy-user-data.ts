/**
 * Pure renderers of the boot-contract steps that wrap the user's own steps when CodeDeploy is wired in.
 *
 * The CodeDeploy agent must not race user data: if it starts while user data is still installing things,
 * a deployment's lifecycle hooks run against a half-built server and fail, and the group relaunches it.
 * So the first step stops an agent that the AMI may have baked in, and the last step (the one right before the
 * launch lifecycle action is completed with CONTINUE) installs the agent if missing and starts it. Under the boot
 * contract's strict mode a failed step ends the boot before this one: the agent never starts on a half-built server.
 */

import type { BootStep } from '../private/boot-contract';

/** First step: keep a baked-in agent from running before the boot has finished. */
export function agentHoldStep(): BootStep {
  return {
    name: 'codedeploy-agent-hold',
    commands: [
      'if systemctl cat codedeploy-agent.service > /dev/null 2>&1; then',
      '  systemctl stop codedeploy-agent',
      '  echo "stopped the CodeDeploy agent of the image until the boot has finished"',
      'fi',
    ],
  };
}

/**
 * Last step: install the agent from the regional CodeDeploy bucket when it is not on the image (through the AWS
 * CLI, with the instance role's read access to that bucket, retried), then enable and start it and check it runs.
 * `region` may be a CloudFormation token; it is only interpolated.
 */
export function agentStartStep(region: string): BootStep {
  const installer = '/opt/resilient-fleet/codedeploy-install';
  return {
    name: 'codedeploy-agent',
    commands: [
      'if ! rpm -q codedeploy-agent > /dev/null 2>&1; then',
      '  dnf_install ruby',
      '  install -d -m 755 /opt/resilient-fleet',
      `  s3_get 's3://aws-codedeploy-${region}/latest/install' ${installer}`,
      `  chmod 755 ${installer}`,
      `  retry ${installer} auto`,
      'fi',
      'systemctl enable codedeploy-agent',
      'systemctl start codedeploy-agent',
      'systemctl is-active codedeploy-agent',
    ],
  };
}
