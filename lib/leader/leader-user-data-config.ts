/**
 * Pure renderers of what installs LeaderElection's on-instance commands (`leader-only`, `leader-status`).
 * No aws-cdk-lib: values may be CloudFormation tokens, only interpolated.
 * - `renderLeaderBootStep`: a step of the boot contract (a MultiAzFleet's user data): the download is retried, the
 *   Node runtime is installed and checked by the contract's `node-runtime` step first, and a failure replaces the
 *   instance;
 * - `renderLeaderUserData`: plain bash lines for user data built some other way (they install the same files; the
 *   runtime install, its check and the download end the script on failure).
 * Both run the tool with NODE_BIN, never plain `node`.
 */

import type { BootStep } from '../private/boot-contract';
import { NODE_BIN, NODE_PACKAGE } from '../private/node-runtime';

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

/** Lines that write the config and the two commands (idempotent). */
function installLines(o: LeaderUserDataOptions, dir: string): string[] {
  const config = `{"tableName":"${o.tableName}","region":"${o.region}","tagKey":"${o.tagKey}"}`;
  const wrapper = (name: string, sub: string) => [
    `cat > /usr/local/bin/${name} <<'RESILIENT_FLEET_EOF'`,
    '#!/bin/sh',
    `exec ${NODE_BIN} ${dir}/index.mjs ${sub} "$@"`,
    'RESILIENT_FLEET_EOF',
    `chmod 755 /usr/local/bin/${name}`,
  ];
  return [
    `cat > ${CONFIG_PATH} <<'RESILIENT_FLEET_EOF'`,
    config,
    'RESILIENT_FLEET_EOF',
    `chmod 644 ${CONFIG_PATH}`,
    ...wrapper('leader-only', 'only'),
    ...wrapper('leader-status', 'status'),
  ];
}

/** The boot-contract step (needs the contract's `node-runtime` step before it). */
export function renderLeaderBootStep(o: LeaderUserDataOptions): BootStep {
  const dir = o.installDir ?? '/opt/resilient-fleet/leader';
  return {
    name: 'leader-commands',
    commands: [
      '# resilient-fleet: LeaderElection on-instance commands (leader-only, leader-status)',
      `install -d -m 755 ${dir} /etc/resilient-fleet`,
      `s3_get '${o.toolS3Url}' ${dir}/index.mjs`,
      `chmod 644 ${dir}/index.mjs`,
      ...installLines(o, dir),
    ],
  };
}

/** Shell lines for user data (bash) outside the boot contract. Idempotent: running them twice leaves the same files. */
export function renderLeaderUserData(o: LeaderUserDataOptions): string[] {
  const dir = o.installDir ?? '/opt/resilient-fleet/leader';
  return [
    '# resilient-fleet: LeaderElection on-instance commands (leader-only, leader-status)',
    `rpm -q ${NODE_PACKAGE} > /dev/null 2>&1 || dnf install -y ${NODE_PACKAGE} || exit 1`,
    `${NODE_BIN} --version || exit 1`,
    `mkdir -p ${dir} /etc/resilient-fleet`,
    `aws s3 cp '${o.toolS3Url}' ${dir}/index.mjs --region ${o.region} --only-show-errors || exit 1`,
    ...installLines(o, dir),
  ];
}
