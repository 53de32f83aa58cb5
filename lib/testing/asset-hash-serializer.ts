/**
 * A jest snapshot serializer for stacks that use this library:
 * - it masks CDK asset hashes, so snapshots do not churn when a hook's bundled code (or any other asset) changes;
 * - it shows what the constructs stage for their assets (haproxy.cfg, keepalived.conf, the scripts and systemd units
 *   HaproxyFailoverPair ships), which the template only names by hash: a snapshot of a template gets one more key,
 *   `[staged asset files]`, with the files of each staged directory asset the template refers to, in the order of
 *   the template's first reference (the template as synthesized, not as printed). A changed rendered setting therefore changes the snapshot.
 *
 * Use it in your own jest config:
 *   snapshotSerializers: ['resilient-fleet/jest-serializer']
 *
 * How it finds the files: CDK stages each asset into `asset.<hash>` in the cloud assembly, and (by default) the hash is
 * the fingerprint of the content, so any assembly holding `asset.<hash>` holds these very files. The serializer looks in
 * `$CDK_OUTDIR`, `./cdk.out` and the assemblies an App without `outdir` writes (`cdk.out*` in the OS temporary
 * directory), and uses a directory only when its fingerprint is the hash (a copy still being written elsewhere is
 * never read). What it prints is deterministic and holds no paths:
 * - files by their path inside the asset, contents as they are (asset hashes in them masked);
 * - bundled code (`.js`, `.mjs`, `.cjs` and their `.map` source maps) as `[bundled code]`, binary files as `[binary file]`; an asset that
 *   holds only bundled code (a Lambda hook) is left out, as are file assets and assets whose hash is not their
 *   fingerprint (a custom `assetHash`): those stay visible only as `[ASSET HASH]`.
 *
 * Everything else in the template is compared as is.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// 64 hex characters: CDK's asset hashes (file assets, S3 keys, Docker tags), optionally with an extension.
const ASSET_HASH = /\b[0-9a-f]{64}\b/g;
const MASK = '[ASSET HASH]';
/** The key a template's snapshot gets for the files its assets stage. */
const STAGED_KEY = '[staged asset files]';
const BUNDLED_CODE = /\.(js|mjs|cjs)(\.map)?$/;

function mask(value: string): string {
  return value.replace(ASSET_HASH, MASK);
}

function hasHash(value: string): boolean {
  ASSET_HASH.lastIndex = 0;
  const found = ASSET_HASH.test(value);
  ASSET_HASH.lastIndex = 0;
  return found;
}

type Template = Record<string, unknown>;

/** The top-level sections of a CloudFormation template. */
const SECTIONS = new Set(['AWSTemplateFormatVersion', 'Description', 'Metadata', 'Parameters', 'Rules', 'Mappings', 'Conditions', 'Transform', 'Resources', 'Outputs']);

/**
 * A CloudFormation template as `Template.toJSON()` or a synthesized `*.template.json` gives it: only template sections
 * (CDK leaves out an empty Resources), and each resource with a Type.
 */
function isTemplate(value: unknown): value is Template {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length === 0 || !keys.every((k) => SECTIONS.has(k))) return false;
  if (!('Resources' in value)) return true;
  const resources = (value as { Resources?: unknown }).Resources;
  if (resources === null || typeof resources !== 'object' || Array.isArray(resources)) return false;
  return Object.values(resources).every((r) => r !== null && typeof r === 'object' && typeof (r as { Type?: unknown }).Type === 'string');
}

/** The asset hashes a template mentions, in the order of their first mention. */
function hashesIn(template: Template): string[] {
  return [...new Set(JSON.stringify(template).match(ASSET_HASH) ?? [])];
}

/** Cloud assembly directories to look in, nearest first. */
function assemblyDirs(): string[] {
  const dirs = [process.env.CDK_OUTDIR, path.resolve('cdk.out')].filter((d): d is string => d !== undefined && d !== '');
  for (const tmp of new Set([os.tmpdir(), fs.realpathSync(os.tmpdir())])) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(tmp);
    } catch {
      continue;
    }
    dirs.push(...names.filter((n) => n.startsWith('cdk.out')).map((n) => path.join(tmp, n)));
  }
  return dirs;
}

/** Relative (POSIX) path -> contents of every file under `dir`, sorted by path. */
function readTree(dir: string, prefix = ''): Array<[string, Buffer]> {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e): Array<[string, Buffer]> => {
      const full = path.join(dir, e.name);
      const rel = prefix + e.name;
      if (e.isDirectory()) return readTree(full, `${rel}/`);
      return e.isFile() ? [[rel, fs.readFileSync(full)]] : [];
    });
}

function isText(content: Buffer): boolean {
  if (content.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(content);
    return true;
  } catch {
    return false;
  }
}

/** Found staged files by hash (content-addressed, so never stale); `null`: a directory of bundled code only. */
const found = new Map<string, Record<string, string> | null>();

function fingerprint(dir: string): string {
  // aws-cdk-lib is a peer dependency: loaded only once a template refers to an asset.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { FileSystem } = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
  return FileSystem.fingerprint(dir);
}

/** The files staged for `hash`, `null` for bundled code only, `undefined` when no assembly holds them. */
function stagedFiles(hash: string): Record<string, string> | null | undefined {
  if (found.has(hash)) return found.get(hash);
  for (const dir of assemblyDirs()) {
    const staged = path.join(dir, `asset.${hash}`);
    let isDir = false;
    try {
      isDir = fs.statSync(staged).isDirectory();
    } catch {
      continue;
    }
    if (!isDir || fingerprint(staged) !== hash) continue;
    const tree = readTree(staged);
    const files = tree.some(([name]) => !BUNDLED_CODE.test(name))
      ? Object.fromEntries(tree.map(([name, content]) => [name, BUNDLED_CODE.test(name) ? '[bundled code]' : isText(content) ? content.toString('utf8') : '[binary file]']))
      : null;
    found.set(hash, files);
    return files;
  }
  return undefined;
}

/**
 * A copy of the template with the files of its staged assets under `[staged asset files]` (no such key when it refers
 * to none). Hashes are not masked here: the serializer masks them as it prints.
 */
function withStagedFiles(template: Template): Template {
  const staged = hashesIn(template)
    .map(stagedFiles)
    .filter((f): f is Record<string, string> => f !== undefined && f !== null);
  return staged.length === 0 ? { ...template } : { ...template, [STAGED_KEY]: staged };
}

/** The copies this serializer prints, so that printing one does not start over. */
const expanded = new WeakSet<object>();

const serializer = {
  test(value: unknown): boolean {
    if (typeof value === 'string') return hasHash(value);
    return isTemplate(value) && !expanded.has(value);
  },
  serialize(value: unknown, config: unknown, indentation: string, depth: number, refs: unknown, printer: (v: unknown, ...rest: unknown[]) => string): string {
    if (typeof value === 'string') return printer(mask(value), config, indentation, depth, refs);
    const shown = withStagedFiles(value as Template);
    expanded.add(shown);
    return printer(shown, config, indentation, depth, refs);
  },
  /** Exposed for callers that want to mask a template before comparing it some other way. */
  mask,
  /** Exposed for callers that want a template with its staged files (hashes unmasked) to compare some other way. */
  withStagedFiles,
};

export = serializer;
