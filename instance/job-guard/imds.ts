/**
 * The instance's own identity from the instance metadata service, IMDSv2 only (a session token first).
 * Metadata sometimes answers empty or fails for a moment (early in boot, under load): both are retried with
 * backoff up to a deadline, never taken as an answer.
 */
import { retry, type RetryOptions } from '../../lambda/shared/retry';

export const IMDS_BASE_URL = 'http://169.254.169.254';

export interface InstanceIdentity {
  readonly instanceId: string;
  readonly region: string;
}

export interface ImdsOptions {
  readonly baseUrl?: string;
  /** Per-request timeout. @default 2000 */
  readonly timeoutMs?: number;
  readonly retry?: Partial<Omit<RetryOptions, 'retryable'>>;
}

class MetadataUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetadataUnavailable';
  }
}

async function request(url: string, init: RequestInit, timeoutMs: number): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new MetadataUnavailable(`${init.method ?? 'GET'} ${url}: ${(err as Error).message}`);
  }
  const body = (await res.text()).trim();
  if (!res.ok) throw new MetadataUnavailable(`${init.method ?? 'GET'} ${url}: HTTP ${res.status}`);
  if (body.length === 0) throw new MetadataUnavailable(`${init.method ?? 'GET'} ${url}: empty answer`);
  return body;
}

/** Reads instance id and region, retrying empty answers, errors and timeouts until the deadline. */
export async function instanceIdentity(options: ImdsOptions = {}): Promise<InstanceIdentity> {
  // AWS_EC2_METADATA_SERVICE_ENDPOINT: the SDKs' own override of the metadata endpoint.
  const base = (options.baseUrl ?? process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT ?? IMDS_BASE_URL).replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 2000;
  return retry(
    async () => {
      const token = await request(`${base}/latest/api/token`, { method: 'PUT', headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '300' } }, timeoutMs);
      const headers = { 'X-aws-ec2-metadata-token': token };
      const instanceId = await request(`${base}/latest/meta-data/instance-id`, { headers }, timeoutMs);
      const region = await request(`${base}/latest/meta-data/placement/region`, { headers }, timeoutMs);
      if (!/^i-[0-9a-f]{8,17}$/.test(instanceId)) throw new MetadataUnavailable(`instance-id answered ${JSON.stringify(instanceId)}`);
      return { instanceId, region };
    },
    { deadlineMs: 60_000, baseDelayMs: 200, maxDelayMs: 5_000, ...options.retry, retryable: (e) => e instanceof MetadataUnavailable },
  );
}
