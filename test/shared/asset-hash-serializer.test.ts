import serializer = require('../../lib/testing/asset-hash-serializer');

const HASH = 'f178182c7c3aac6ad18bdaae53a2d38f72b2cf690d17b9efa635c7ce37f77d71';

describe('asset hash serializer', () => {
  test('masks 64-hex asset hashes inside strings', () => {
    expect(serializer.mask(`${HASH}.zip`)).toBe('[ASSET HASH].zip');
    expect(serializer.mask(`cdk-hnb659fds-assets-123456789012-eu-west-1/${HASH}.json`)).toContain('[ASSET HASH].json');
  });

  test('leaves other strings alone and only claims strings with a hash', () => {
    expect(serializer.test('ami-0123456789abcdef0')).toBe(false);
    expect(serializer.test(HASH.slice(0, 63))).toBe(false);
    expect(serializer.test({ S3Key: HASH })).toBe(false);
    expect(serializer.test(`${HASH}.zip`)).toBe(true);
  });

  test('masks hashes in a snapshot', () => {
    expect({ Code: { S3Key: `${HASH}.zip` } }).toMatchInlineSnapshot(`
{
  "Code": {
    "S3Key": "[ASSET HASH].zip",
  },
}
`);
  });
});
