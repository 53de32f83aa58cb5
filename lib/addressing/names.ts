/** Pure checks of DNS names and addresses, shared by the addressing constructs (no aws-cdk-lib). */

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/** A fully qualified domain name without the trailing dot: labels of letters, digits and "-", 253 characters at most. */
export function isDomainName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => LABEL.test(label));
}

/** A record name as users write it: relative ('www-cluster3', 'www.site1') or fully qualified, optional trailing dot; '*' allowed as first label. */
export function isRecordName(name: string): boolean {
  const bare = name.replace(/\.$/, '');
  if (bare.length === 0) return false;
  const labels = bare.split('.');
  return labels.every((label, i) => (i === 0 && label === '*') || LABEL.test(label));
}

export function isIpv4(value: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(value);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255 && String(Number(o)) === o);
}

/** An SSM parameter path prefix: '/a/b', no trailing slash. */
export function isParameterPrefix(prefix: string): boolean {
  return /^(\/[A-Za-z0-9_.-]+)+$/.test(prefix) && prefix.length <= 900 && !/^\/aws|^\/ssm/i.test(prefix);
}
