/**
 * The bundled job-guard (assets/instance/job-guard/index.mjs, what workers install), run as a real command against
 * a fake IMDSv2 and a fake Auto Scaling endpoint on loopback (Query protocol, as the SDK speaks it).
 * Needs `npm run bundle` first; a missing bundle fails the test.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const BUNDLE = path.join(__dirname, '..', '..', 'assets', 'instance', 'job-guard', 'index.mjs');
const ID = 'i-0abc1234def567890';

function listen(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) }),
    ),
  );
}

const NS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

describe('the bundled job-guard command', () => {
  let imds: Awaited<ReturnType<typeof listen>>;
  let asg: Awaited<ReturnType<typeof listen>>;
  let actions: string[];
  let protectedNow: boolean;
  let dir: string;

  beforeEach(async () => {
    actions = [];
    protectedNow = false;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'job-guard-cli-'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ lifecycleHookName: 'resilient-fleet-job-drain', heartbeatIntervalSeconds: 30, maxTerminationWaitSeconds: 3600 }));
    imds = await listen((req, res) => {
      if (req.method === 'PUT' && req.url === '/latest/api/token') return void res.end('T');
      if (req.headers['x-aws-ec2-metadata-token'] !== 'T') return void res.writeHead(401).end();
      if (req.url === '/latest/meta-data/instance-id') return void res.end(ID);
      if (req.url === '/latest/meta-data/placement/region') return void res.end('eu-west-1');
      res.writeHead(404).end();
    });
    asg = await listen((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const params = new URLSearchParams(body);
        const action = params.get('Action')!;
        res.setHeader('content-type', 'text/xml');
        if (action === 'DescribeAutoScalingInstances') {
          actions.push(action);
          return void res.end(
            `<DescribeAutoScalingInstancesResponse xmlns="${NS}"><DescribeAutoScalingInstancesResult><AutoScalingInstances><member>` +
              `<InstanceId>${ID}</InstanceId><AutoScalingGroupName>workers</AutoScalingGroupName><LifecycleState>InService</LifecycleState>` +
              `<HealthStatus>HEALTHY</HealthStatus><AvailabilityZone>eu-west-1a</AvailabilityZone><ProtectedFromScaleIn>${protectedNow}</ProtectedFromScaleIn>` +
              `</member></AutoScalingInstances></DescribeAutoScalingInstancesResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeAutoScalingInstancesResponse>`,
          );
        }
        if (action === 'SetInstanceProtection') {
          protectedNow = params.get('ProtectedFromScaleIn') === 'true';
          actions.push(`${action} ${params.get('AutoScalingGroupName')} ${params.get('InstanceIds.member.1')} ${protectedNow}`);
          return void res.end(
            `<SetInstanceProtectionResponse xmlns="${NS}"><SetInstanceProtectionResult/><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></SetInstanceProtectionResponse>`,
          );
        }
        res.writeHead(400).end();
      });
    });
  });

  afterEach(async () => {
    await imds.close();
    await asg.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    expect(fs.existsSync(BUNDLE)).toBe(true); // run `npm run bundle`
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [BUNDLE, ...args], {
        env: {
          ...process.env,
          AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url,
          AWS_ENDPOINT_URL_AUTO_SCALING: asg.url,
          AWS_MAX_ATTEMPTS: '1',
          JOB_GUARD_STATE_DIR: path.join(dir, 'run'),
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => (stdout += c));
      child.stderr.on('data', (c) => (stderr += c));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  test('protects, runs the job (the instance is protected while it runs), clears, and exits with the job\'s code', async () => {
    const job = `require('http').get(process.env.PROBE, (r) => { let b=''; r.on('data', (c) => b += c); r.on('end', () => { console.log('during job: ' + b); process.exit(7); }); })`;
    const probe = await listen((_req, res) => res.end(String(protectedNow)));
    process.env.PROBE = probe.url;
    try {
      const { code, stdout, stderr } = await run(['--config', path.join(dir, 'config.json'), '--', process.execPath, '-e', job]);
      expect(stderr).not.toMatch(/"level":"ERROR"/);
      expect(code).toBe(7);
      expect(stdout).toContain('during job: true');
      expect(actions).toEqual([
        'DescribeAutoScalingInstances',
        `SetInstanceProtection workers ${ID} true`,
        'DescribeAutoScalingInstances',
        `SetInstanceProtection workers ${ID} false`,
        'DescribeAutoScalingInstances',
      ]);
    } finally {
      delete process.env.PROBE;
      await probe.close();
    }
  });

  test('usage errors exit 64 without calling AWS', async () => {
    const { code, stderr } = await run(['./process-one-job']);
    expect(code).toBe(64);
    expect(stderr).toContain('put the command after --');
    expect(actions).toEqual([]);
  });
});
