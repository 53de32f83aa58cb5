import { endpointOf } from '../../lambda/mysql-shared/endpoint';

const zone: Record<string, string> = {
  'db-master.shop.db.internal': 'shop-primary.abcexample.eu-west-1.rds.amazonaws.com.',
  'db-master.site1.example.com': 'db-master.shop.db.internal',
};
const resolve = async (name: string): Promise<string[]> => {
  if (zone[name]) return [zone[name]];
  throw Object.assign(new Error(`queryCname ENODATA ${name}`), { code: 'ENODATA' });
};

describe('endpointOf', () => {
  test('follows db-master to the RDS endpoint, through a per-site CNAME chain', async () => {
    expect(await endpointOf('db-master.shop.db.internal', undefined, resolve)).toBe('shop-primary.abcexample.eu-west-1.rds.amazonaws.com');
    expect(await endpointOf('db-master.site1.example.com', 'fallback', resolve)).toBe('shop-primary.abcexample.eu-west-1.rds.amazonaws.com');
  });

  test('uses the fallback when the name does not resolve yet, and a plain host name as it is', async () => {
    expect(await endpointOf('db-master.new.db.internal', 'shop-primary.x.rds.amazonaws.com', resolve)).toBe('shop-primary.x.rds.amazonaws.com');
    expect(await endpointOf('shop-primary.x.rds.amazonaws.com', undefined, resolve)).toBe('shop-primary.x.rds.amazonaws.com');
  });

  test('stops on a CNAME loop', async () => {
    const loop = async (n: string) => [n === 'a' ? 'b' : 'a'];
    expect(['a', 'b']).toContain(await endpointOf('a', undefined, loop));
  });
});
