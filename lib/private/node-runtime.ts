/**
 * The Node.js runtime that instance programs (failover-pair agent, job-guard, leader CLI) run on.
 *
 * Amazon Linux 2023's plain `nodejs` package was Node 18 (end of life); its repositories now ship namespaced
 * packages (`nodejs20`, `nodejs22`, `nodejs24`) whose executables are `node-20`, `node-22`, `node-24`. Plain
 * `node` is an alternatives link to whichever was installed first, so every unit and script calls the
 * namespaced executable: the version that runs is the version that was installed, whatever else the AMI has.
 */

/** The AL2023 package installed at boot. */
export const NODE_PACKAGE = 'nodejs24';

/** The executable every rendered unit and script runs (never plain `node`). */
export const NODE_BIN = '/usr/bin/node-24';
