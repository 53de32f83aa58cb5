/**
 * Pure renderer of the user-data lines that install LeaderElection's on-instance commands
 * (`leader-only`, `leader-status`). No aws-cdk-lib: values may be CloudFormation tokens, only interpolated.
 */

export interface LeaderUserDataOptions {
  /** s3:// URL of the bundled tool (index.mjs). */
  readonly toolS3Url: string;
  readonly tableName: string;
  readonly region: string;
  readonly tagKey: string;
  /** Where the tool goes. @default '/opt/resilient-fleet/leader' */
  readonly installDir?: string;
}

export const CONFIG_PATH = '/etc/resilient-fleet/leader.json';

/** Shell lines for user data (bash). Idempotent: running them twice leaves the same files. */
export function renderLeaderUserData(o: LeaderUserDataOptions): string[] {
  const dir = o.installDir ?? '/opt/resilient-fleet/leader';
  const config = `{"tableName":"${o.tableName}","region":"${o.region}","tagKey":"${o.tagKey}"}`;
  const wrapper = (name: string, sub: string) => [
    `cat > /usr/local/bin/${name} <<'RESILIENT_FLEET_EOF'`,
    '#!/bin/sh',
    `exec node ${dir}/index.mjs ${sub} "$@"`,
    'RESILIENT_FLEET_EOF',
    `chmod 755 /usr/local/bin/${name}`,
  ];
  return [
    '# resilient-fleet: LeaderElection on-instance commands (leader-only, leader-status)',
    'command -v node >/dev/null 2>&1 || dnf install -y nodejs || yum install -y nodejs',
    `mkdir -p ${dir} /etc/resilient-fleet`,
    `aws s3 cp '${o.toolS3Url}' ${dir}/index.mjs --region ${o.region} --only-show-errors`,
    `cat > ${CONFIG_PATH} <<'RESILIENT_FLEET_EOF'`,
    config,
    'RESILIENT_FLEET_EOF',
    ...wrapper('leader-only', 'only'),
    ...wrapper('leader-status', 'status'),
  ];
}
