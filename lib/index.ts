export * from './fleet/multi-az-fleet';
