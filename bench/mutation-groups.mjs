// The groups `npm run mutate` runs, one Stryker run each (bench/mutation-run.mjs); bench/mutation-report.mjs lists
// the groups that have no report yet, so a file never run is not mistaken for one that scored.
export const GROUPS = {
  validation: ['lib/private/validation.ts'],
  renderers: ['lib/failover-pair/*-config.ts'],
  'failover-pair-agent': ['instance/*/logic.ts'],
  'dns-registrar': ['lambda/dns-registrar/logic.ts'],
  'worker-drain': ['lambda/worker-drain/logic.ts'],
  mysql: ['lambda/mysql-*/logic.ts'],
  leader: ['lambda/leader/logic.ts'],
  'launch-loop': ['lambda/launch-loop/logic.ts'],
  shared: ['lambda/shared/*.ts'],
};
