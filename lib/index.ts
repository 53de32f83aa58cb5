export * from './fleet/multi-az-fleet';
export * from './leader/leader-election';
export * from './addressing/address-stack';
export * from './addressing/address-references';
export * from './addressing/dns-registrar';
export * from './launch-loop/launch-loop-guard';
export * from './mysql/replicated-mysql';
export * from './workers/queue-worker-fleet';
