/**
 * Entry of the on-instance tool (bundled to assets/instance/leader/index.mjs). User data installs two
 * wrappers: `leader-only` runs `index.mjs only ...`, `leader-status` runs `index.mjs status ...`.
 * Configuration comes from /etc/resilient-fleet/leader.json (written by user data; LEADER_CONFIG overrides the path).
 */
import { main } from './main';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`leader: ${err.name}: ${err.message}\n`);
    process.exit(1);
  },
);
