/**
 * The HaproxyFailoverPair node agent (bundled to assets/instance/failover-pair-agent/index.mjs).
 *
 *   node index.mjs boot   once at boot: identity from IMDS, node.conf and peers.conf for keepalived, the app
 *                         backend file for HAProxy, the VPN virtual address accepted locally
 *   node index.mjs sync   forever: keeps the peer address, the app servers (runtime API + file) and, on the
 *                         master, the clients' address current; every RFHA_SYNC_SECONDS
 *   node index.mjs move   once, from keepalived's notify script on MASTER: moves the Elastic IP and the VPN route
 */
import { log, main } from './agent';

main(process.argv.slice(2)).catch((e) => {
  log.error('failed', { error: e as Error });
  process.exit(1);
});
