export * from './fleet/multi-az-fleet';
export * from './leader/leader-election';
export * from './addressing/address-stack';
export * from './addressing/address-references';
export * from './addressing/dns-registrar';
export * from './launch-loop/launch-loop-guard';
export * from './failover-pair/haproxy-failover-pair';
// Only the client type is public: the client-list checks and the file loader are the pair's own helpers.
export { HaproxyClient } from './failover-pair/clients';
export * from './mysql/replicated-mysql';
export * from './workers/queue-worker-fleet';
