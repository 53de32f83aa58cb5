/**
 * A jest snapshot serializer that masks CDK asset hashes, so snapshots of stacks that use this library
 * do not churn when a hook's bundled code (or any other asset) changes.
 *
 * Use it in your own jest config:
 *   snapshotSerializers: ['resilient-fleet/jest-serializer']
 *
 * It rewrites strings only; everything else in the template is compared as is.
 */

// 64 hex characters: CDK's asset hashes (file assets, S3 keys, Docker tags), optionally with an extension.
const ASSET_HASH = /\b[0-9a-f]{64}\b/g;
const MASK = '[ASSET HASH]';

function mask(value: string): string {
  return value.replace(ASSET_HASH, MASK);
}

function hasHash(value: string): boolean {
  ASSET_HASH.lastIndex = 0;
  const found = ASSET_HASH.test(value);
  ASSET_HASH.lastIndex = 0;
  return found;
}

const serializer = {
  test(value: unknown): boolean {
    return typeof value === 'string' && hasHash(value);
  },
  serialize(value: string, config: unknown, indentation: string, depth: number, refs: unknown, printer: (v: unknown, ...rest: unknown[]) => string): string {
    return printer(mask(value), config, indentation, depth, refs);
  },
  /** Exposed for callers that want to mask a template before comparing it some other way. */
  mask,
};

export = serializer;
