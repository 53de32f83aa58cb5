import { spawnSync } from 'child_process';

/**
 * System tests run real programs. A missing program is a failure with the command that installs it,
 * never a skip: CI (`.ci/run`) installs them, and a developer runs the same apt-get line once.
 */
export function requirePrograms(...programs: string[]): void {
  const missing = programs.filter((p) => spawnSync('sh', ['-c', `command -v ${p}`]).status !== 0);
  if (missing.length > 0) {
    throw new Error(
      `system test needs ${missing.join(', ')} on PATH. Install: apt-get update && apt-get install -y haproxy keepalived mariadb-server iproute2` +
        (process.env.CI === 'true' ? ' (CI=true: a missing program fails the run)' : ''),
    );
  }
}

/** True when this process may create network namespaces (root with CAP_NET_ADMIN). */
export function canUseNetns(): boolean {
  return spawnSync('ip', ['netns', 'list']).status === 0 && process.getuid?.() === 0;
}
