/**
 * Pure renderers for the user-data sections that wrap the user's own commands when CodeDeploy is wired in.
 *
 * The CodeDeploy agent must not race user data: if it starts while user data is still installing things,
 * a deployment's lifecycle hooks run against a half-built server and fail, and the group relaunches it.
 * So the first section stops an agent that the AMI may have baked in and enabled, and the last section
 * installs the agent if missing and starts it only after every other user-data command has succeeded.
 */

/** Lines that run first: keep a baked-in agent from starting before user data is done. */
export function renderAgentHold(): string[] {
  return [
    '# resilient-fleet: hold the CodeDeploy agent until user data has finished',
    'systemctl stop codedeploy-agent 2>/dev/null || true',
  ];
}

/**
 * Lines that run last: install the agent from the regional bucket when it is not on the AMI, then start it.
 * `region` may be a CloudFormation token; it is only interpolated.
 */
export function renderAgentStart(region: string): string[] {
  return [
    '# resilient-fleet: user data finished; install (if missing) and start the CodeDeploy agent',
    'if ! systemctl list-unit-files codedeploy-agent.service >/dev/null 2>&1 || ! systemctl cat codedeploy-agent >/dev/null 2>&1; then',
    '  (command -v dnf >/dev/null && dnf install -y ruby wget) || (command -v yum >/dev/null && yum install -y ruby wget) || (apt-get update && apt-get install -y ruby-full wget)',
    `  cd /tmp && wget -q https://aws-codedeploy-${region}.s3.${region}.amazonaws.com/latest/install -O codedeploy-install`,
    '  chmod +x /tmp/codedeploy-install && /tmp/codedeploy-install auto',
    'fi',
    'systemctl enable codedeploy-agent',
    'systemctl start codedeploy-agent',
  ];
}
