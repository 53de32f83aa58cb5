/**
 * The instance metadata service for the instance programs (job-guard, the leader CLI), IMDSv2 only: a session token
 * first, sent with every read. The endpoint honours the SDKs' own override, AWS_EC2_METADATA_SERVICE_ENDPOINT, so a
 * test (or an unusual network) can point the programs at another metadata server.
 *
 * Metadata sometimes fails or answers empty for a moment (early in boot, under load): network errors, timeouts, 5xx and
 * empty answers are retried with backoff up to a deadline, never taken as an answer. A 404 is an answer: the key does not
 * exist (for example an instance tag when tags in metadata are off). A 401 means the token expired: a new one is fetched.
 */
import { retry, type RetryOptions } from './retry';

export const IMDS_BASE_URL = 'http://169.254.169.254';
/** The environment variable the AWS SDKs read to override the metadata endpoint. */
export const IMDS_ENDPOINT_ENV = 'AWS_EC2_METADATA_SERVICE_ENDPOINT';

export interface InstanceIdentity {
  readonly instanceId: string;
  readonly region: string;
}

export interface ImdsOptions {
  /** @default AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254 */
  readonly baseUrl?: string;
  /** Where to read AWS_EC2_METADATA_SERVICE_ENDPOINT. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Per-request timeout. @default 2000 */
  readonly timeoutMs?: number;
  /** Session token lifetime asked for. @default 21600 (6 h, the IMDSv2 maximum) */
  readonly tokenTtlSeconds?: number;
  readonly retry?: Partial<Omit<RetryOptions, 'retryable'>>;
}

/** A metadata read that may succeed if tried again (network error, timeout, 5xx, empty answer, expired token). */
export class MetadataUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetadataUnavailable';
  }
}

/** The metadata base URL: the option, else the SDKs' override variable, else the link-local address. */
export function metadataBaseUrl(options: Pick<ImdsOptions, 'baseUrl' | 'env'> = {}): string {
  const env = options.env ?? process.env;
  return (options.baseUrl ?? (env[IMDS_ENDPOINT_ENV] || undefined) ?? IMDS_BASE_URL).replace(/\/+$/, '');
}

async function send(url: string, init: RequestInit, timeoutMs: number): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: (await res.text()).trim() };
  } catch (err) {
    throw new MetadataUnavailable(`${init.method ?? 'GET'} ${url}: ${(err as Error).message}`);
  }
}

export interface Imds {
  /** The value at `latest/meta-data/<path>`, or undefined when the service answers 404. */
  get(path: string): Promise<string | undefined>;
  /** Instance id and region; both must exist. */
  identity(): Promise<InstanceIdentity>;
}

/** A metadata session: one token, renewed when the service says it expired. */
export function imdsSession(options: ImdsOptions = {}): Imds {
  const base = metadataBaseUrl(options);
  const timeoutMs = options.timeoutMs ?? 2000;
  const ttl = String(options.tokenTtlSeconds ?? 21_600);
  const retrying = <T>(fn: () => Promise<T>): Promise<T> =>
    retry(fn, { deadlineMs: 60_000, baseDelayMs: 200, maxDelayMs: 5_000, ...options.retry, retryable: (e) => e instanceof MetadataUnavailable });
  let token: string | undefined;

  const fetchToken = async (): Promise<string> => {
    const url = `${base}/latest/api/token`;
    const res = await send(url, { method: 'PUT', headers: { 'X-aws-ec2-metadata-token-ttl-seconds': ttl } }, timeoutMs);
    if (res.status !== 200) throw new MetadataUnavailable(`PUT ${url}: HTTP ${res.status}`);
    if (!res.body) throw new MetadataUnavailable(`PUT ${url}: empty answer`);
    return res.body;
  };

  const readOnce = async (path: string): Promise<string | undefined> => {
    token ??= await fetchToken();
    const url = `${base}/latest/meta-data/${path.replace(/^\/+/, '')}`;
    const res = await send(url, { headers: { 'X-aws-ec2-metadata-token': token } }, timeoutMs);
    if (res.status === 401) {
      token = undefined;
      throw new MetadataUnavailable(`GET ${url}: HTTP 401 (token expired)`);
    }
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new MetadataUnavailable(`GET ${url}: HTTP ${res.status}`);
    if (!res.body) throw new MetadataUnavailable(`GET ${url}: empty answer`);
    return res.body;
  };

  const required = async (path: string): Promise<string> => {
    const v = await readOnce(path);
    // Early in boot a key can be missing for a moment: retried like an empty answer.
    if (v === undefined) throw new MetadataUnavailable(`GET ${base}/latest/meta-data/${path}: HTTP 404`);
    return v;
  };

  return {
    get: (path) => retrying(() => readOnce(path)),
    identity: () =>
      retrying(async () => {
        const instanceId = await required('instance-id');
        const region = await required('placement/region');
        if (!/^i-[0-9a-f]{8,17}$/.test(instanceId)) throw new MetadataUnavailable(`instance-id answered ${JSON.stringify(instanceId)}`);
        return { instanceId, region };
      }),
  };
}

/** Reads instance id and region, retrying empty answers, errors and timeouts until the deadline. */
export function instanceIdentity(options: ImdsOptions = {}): Promise<InstanceIdentity> {
  return imdsSession(options).identity();
}
