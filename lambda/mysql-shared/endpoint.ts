/**
 * RDS presents a TLS certificate for its own endpoint name, not for db-master.<cluster>, so a client that verifies the
 * certificate must connect to the name the CNAME points at. This follows the CNAME chain (inside the VPC, where the
 * private zone answers) to the RDS endpoint; when there is no CNAME (or DNS has not caught up with a just-created
 * record) it uses the fallback the stack knows (the primary's endpoint at deploy time).
 */
import { promises as dns } from 'dns';

export type CnameResolver = (name: string) => Promise<string[]>;

const MAX_HOPS = 5;

export async function endpointOf(name: string, fallback: string | undefined, resolve: CnameResolver = (n) => dns.resolveCname(n)): Promise<string> {
  let current = name.replace(/\.$/, '');
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    let targets: string[];
    try {
      targets = await resolve(current);
    } catch {
      // ENODATA (no CNAME: an address record, the end of the chain) or ENOTFOUND (the record is not there yet).
      return hop === 0 && fallback ? fallback : current;
    }
    if (targets.length === 0) break;
    current = targets[0].replace(/\.$/, '');
  }
  return current;
}
