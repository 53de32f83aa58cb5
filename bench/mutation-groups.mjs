// The groups `npm run mutate` runs, one Stryker run each (bench/mutation-run.mjs); bench/mutation-report.mjs lists
// the groups that have no report yet, so a file never run is not mistaken for one that scored.
export const GROUPS = {
  validation: ['lib/private/validation.ts'],
  'haproxy-config': ['lib/failover-pair/haproxy-config.ts'],
  'keepalived-scripts': ['lib/failover-pair/keepalived-config.ts', 'lib/failover-pair/scripts-config.ts'],
  'failover-pair-agent': ['instance/*/logic.ts'],
  'dns-registrar': ['lambda/dns-registrar/logic.ts'],
  'worker-drain': ['lambda/worker-drain/logic.ts'],
  mysql: ['lambda/mysql-*/logic.ts'],
  leader: ['lambda/leader/logic.ts'],
  'launch-loop': ['lambda/launch-loop/logic.ts'],
  shared: ['lambda/shared/*.ts'],
};
