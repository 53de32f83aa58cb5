import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnOutput, DefaultStackSynthesizer, Stack, aws_s3_assets as s3assets } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import serializer = require('../../lib/testing/asset-hash-serializer');
import { testApp } from '../helpers';

const HASH = 'f178182c7c3aac6ad18bdaae53a2d38f72b2cf690d17b9efa635c7ce37f77d71';
const STAGED = '[staged asset files]';

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

  test('claims CloudFormation templates only', () => {
    expect(serializer.test({ Resources: { Topic: { Type: 'AWS::SNS::Topic' } } })).toBe(true);
    expect(serializer.test({ Resources: {} })).toBe(true);
    expect(serializer.test({ Outputs: { Key: { Value: 'x' } }, Parameters: {} })).toBe(true);
    expect(serializer.test({ Resources: { Topic: { Type: 'AWS::SNS::Topic' } }, Foo: 1 })).toBe(false);
    expect(serializer.test({})).toBe(false);
    expect(serializer.test({ Resources: { Topic: { Properties: {} } } })).toBe(false);
    expect(serializer.test({ Resources: [] })).toBe(false);
    expect(serializer.test({ Resources: null })).toBe(false);
    expect(serializer.test({ Type: 'AWS::SNS::Topic' })).toBe(false);
    expect(serializer.test(null)).toBe(false);
    expect(serializer.test([{ Resources: {} }])).toBe(false);
  });
});

describe('staged asset files in a template\'s snapshot', () => {
  const sources: string[] = [];
  afterAll(() => sources.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  /** A directory asset with these files, referred to by an output, in a stack of its own App. */
  function templateWith(files: Record<string, string | Buffer>, app: App = testApp()): { template: Record<string, unknown>; asset: s3assets.Asset; app: App } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-serializer-'));
    sources.push(dir);
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), content);
    }
    // No bootstrap version rule: the template is the output and what the serializer adds.
    const stack = new Stack(app, 'Site', { synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }) });
    const asset = new s3assets.Asset(stack, 'Files', { path: dir });
    new CfnOutput(stack, 'Key', { value: asset.s3ObjectKey });
    return { template: Template.fromStack(stack).toJSON(), asset, app };
  }

  test('a snapshot shows the files, by their path in the asset, hashes masked, no machine path', () => {
    const { template } = templateWith({ 'haproxy.cfg': 'global\n  maxconn 50000\n', 'units/edge.service': '[Service]\nLimitNOFILE=101027\n' });
    const expected = `
{
  "Outputs": {
    "Key": {
      "Value": "[ASSET HASH].zip",
    },
  },
  "[staged asset files]": [
    {
      "haproxy.cfg": "global
  maxconn 50000
",
      "units/edge.service": "[Service]
LimitNOFILE=101027
",
    },
  ],
}
`;
    expect(template).toMatchInlineSnapshot(expected);
    // The same object printed again (a second snapshot of one template) shows its files again.
    expect(template).toMatchInlineSnapshot(expected);
  });

  test('a changed setting in a staged file changes what the snapshot shows', () => {
    const before = serializer.withStagedFiles(templateWith({ 'keepalived.conf': 'virtual_router_id 51\n' }).template as never);
    const after = serializer.withStagedFiles(templateWith({ 'keepalived.conf': 'virtual_router_id 52\n' }).template as never);
    expect(before[STAGED]).toEqual([{ 'keepalived.conf': 'virtual_router_id 51\n' }]);
    expect(after[STAGED]).toEqual([{ 'keepalived.conf': 'virtual_router_id 52\n' }]);
  });

  test('bundled code (and its source maps, not other .map files) and binary files are named, not shown; an asset of bundled code only is left out', () => {
    const mixed = templateWith({ 'run.sh': '#!/bin/sh\n', 'index.mjs': 'export {}\n', 'index.js.map': '{}', 'index.mjs.map': '{}', 'clients.map': '9001 acme\n', 'lib.cjs': '', 'a.js': '', 'logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]), 'latin1.txt': Buffer.from([0xe9]) });
    expect(serializer.withStagedFiles(mixed.template as never)[STAGED]).toEqual([
      {
        'a.js': '[bundled code]',
        'clients.map': '9001 acme\n',
        'index.js.map': '[bundled code]',
        'index.mjs': '[bundled code]',
        'index.mjs.map': '[bundled code]',
        'latin1.txt': '[binary file]',
        'lib.cjs': '[bundled code]',
        'logo.png': '[binary file]',
        'run.sh': '#!/bin/sh\n',
      },
    ]);
    const code = templateWith({ 'index.mjs': 'export const handler = () => 1;\n' });
    expect(Object.keys(serializer.withStagedFiles(code.template as never))).not.toContain(STAGED);
    expect(serializer.withStagedFiles(code.template as never)).toEqual(code.template);
  });

  test('files come in path order, and assets in the order the template (as synthesized) first mentions them', () => {
    const app = testApp();
    const stack = new Stack(app, 'Two');
    const dirs = ['b', 'a'].map((name) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-serializer-'));
      sources.push(dir);
      fs.writeFileSync(path.join(dir, 'z.conf'), `${name} z\n`);
      fs.writeFileSync(path.join(dir, 'y.conf'), `${name} y\n`);
      return dir;
    });
    const [first, second] = dirs.map((dir, i) => new s3assets.Asset(stack, `A${i}`, { path: dir }));
    new CfnOutput(stack, 'Second', { value: second.s3ObjectKey });
    new CfnOutput(stack, 'First', { value: first.s3ObjectKey });
    new CfnOutput(stack, 'SecondAgain', { value: second.s3ObjectUrl });
    const shown = serializer.withStagedFiles(Template.fromStack(stack).toJSON() as never)[STAGED] as Array<Record<string, string>>;
    // The template's own order (as synthesized): the output named Second comes first, so the second asset does.
    expect(shown).toEqual([{ 'y.conf': 'a y\n', 'z.conf': 'a z\n' }, { 'y.conf': 'b y\n', 'z.conf': 'b z\n' }]);
    expect(Object.keys(shown[0])).toEqual(['y.conf', 'z.conf']);
  });

  test('the same template twice, or from another App, shows the same', () => {
    const files = { 'haproxy.cfg': 'global\n  maxconn 2000\n' };
    const one = templateWith(files);
    const two = templateWith(files);
    expect((one.app.outdir)).not.toBe(two.app.outdir);
    expect(serializer.withStagedFiles(one.template as never)).toEqual(serializer.withStagedFiles(two.template as never));
    expect(serializer.withStagedFiles(one.template as never)[STAGED]).toEqual([files]);
    expect(serializer.withStagedFiles(one.template as never)[STAGED]).toEqual([files]);
  });

  test('a directory named for the hash is used only when its content has that hash', () => {
    const { template, asset } = templateWith({ 'keepalived.conf': 'virtual_router_id 9\n' });
    const decoy = fs.mkdtempSync(path.join(os.tmpdir(), 'rf-serializer-outdir-'));
    sources.push(decoy);
    fs.mkdirSync(path.join(decoy, `asset.${asset.assetHash}`));
    fs.writeFileSync(path.join(decoy, `asset.${asset.assetHash}`, 'keepalived.conf'), 'virtual_router_id 1\n');
    const saved = process.env.CDK_OUTDIR;
    process.env.CDK_OUTDIR = decoy;
    try {
      expect(serializer.withStagedFiles(template as never)[STAGED]).toEqual([{ 'keepalived.conf': 'virtual_router_id 9\n' }]);
    } finally {
      if (saved === undefined) delete process.env.CDK_OUTDIR;
      else process.env.CDK_OUTDIR = saved;
    }
  });

  test('a template without assets, or whose assets no assembly holds, is shown as it is', () => {
    const plain = { Resources: { Topic: { Type: 'AWS::SNS::Topic' } } };
    expect(serializer.withStagedFiles(plain)).toEqual(plain);
    const unknown = { Resources: { Fn: { Type: 'AWS::Lambda::Function', Properties: { Code: { S3Key: `${HASH.replace(/f/g, 'e')}.zip` } } } } };
    expect(serializer.withStagedFiles(unknown)).toEqual(unknown);
    expect(unknown).toMatchInlineSnapshot(`
{
  "Resources": {
    "Fn": {
      "Properties": {
        "Code": {
          "S3Key": "[ASSET HASH].zip",
        },
      },
      "Type": "AWS::Lambda::Function",
    },
  },
}
`);
  });
});
