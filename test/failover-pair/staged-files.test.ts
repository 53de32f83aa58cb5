/**
 * Every setting of the files HaproxyFailoverPair ships, read from the directory the construct staged for its Config
 * asset (not re-rendered copies): the complete text of each file at the defaults, then each option's effect. A changed
 * value, a dropped line or a line added anywhere fails here (issue 15's mutants: maxconn, hard-stop-after, option
 * redispatch, timeout connect, the idle timeout default, balance leastconn, fall 2, inter, virtual_router_id, the
 * marker address, enable_script_security, the construct's own defaults for virtualRouterId / advertInterval /
 * failbackDelay, LimitNOFILE).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration, aws_autoscaling as autoscaling, aws_ec2 as ec2, aws_s3_assets as s3assets } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { HaproxyFailoverPair, HaproxyFailoverPairProps } from '../../lib';
import serializer = require('../../lib/testing/asset-hash-serializer');
import { TEST_AMI, importedVpc, testStack } from '../helpers';
import { APP_BACKEND_HEAD, CLIENT_PORTS_NFT, HAPROXY_CFG, SUPERVISOR } from './expected-files';

const CLIENTS = [
  { name: 'acme', port: 9001 },
  { name: 'globex', port: 9002, backendPort: 7002 },
  { name: 'initech', port: 9003, allowFrom: ['203.0.113.0/24'] },
];

function pairIn(extra: Partial<HaproxyFailoverPairProps> = {}) {
  const stack = testStack();
  const vpc = importedVpc(stack, 3);
  const pair = new HaproxyFailoverPair(stack, 'Pair', {
    vpc,
    ...(extra.backendName ? {} : { backendGroup: autoscaling.AutoScalingGroup.fromAutoScalingGroupName(stack, 'App', 'app-asg') }),
    machineImage: ec2.MachineImage.genericLinux(TEST_AMI),
    ...('clientsFile' in extra ? {} : { clients: CLIENTS }),
    ...extra,
  });
  return { stack, pair };
}

/** The files as the construct staged them: file name -> content. */
function staged(extra: Partial<HaproxyFailoverPairProps> = {}): Record<string, string> {
  const { stack, pair } = pairIn(extra);
  const asset = pair.node.findChild('Config') as s3assets.Asset;
  const outdir = (stack.node.root as App).outdir;
  const dir = path.isAbsolute(asset.assetPath) ? asset.assetPath : path.join(outdir, asset.assetPath);
  return Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
}

const HARDENING = `NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native`;

/** The complete files at the defaults (Auto Scaling group mode, three clients, one with allowFrom). */
const EXPECTED: Record<string, string> = {
  'haproxy.cfg': HAPROXY_CFG,
  'client-ports.nft': CLIENT_PORTS_NFT,
  'app-backend.head': APP_BACKEND_HEAD,
  'clients.map': `9001 acme
9002 globex
9003 initech
`,
  'backend-ports.map': `9001 9001
9002 7002
9003 9003
`,
  'restricted-ports.map': `9003 1
`,
  'allow-from.map': `::0:9003:203.0.113.0/120 1
`,
  'keepalived.conf': `# Rendered by resilient-fleet HaproxyFailoverPair. node.conf (written at boot) defines $SRC_IP, $PRIORITY, $INTERFACE and $STARTUP_DELAY.
include /etc/rfha/node.conf

global_defs {
  enable_script_security
  script_user root
  vrrp_version 3
  # Every transition, in order, to the one agent that reads this FIFO (STOP when keepalived stops).
  vrrp_notify_fifo /run/rfha/vrrp.fifo
  vrrp_startup_delay $STARTUP_DELAY
  # Adverts every 50 ms must not wait behind a saturated CPU (a backup that misses three takes over).
  vrrp_rt_priority 50
  vrrp_rlimit_rttime 500000
}

# HAProxy's supervisor writes 1 while HAProxy runs and 0 the instant it exits; missing or empty reads as down.
track_file haproxy_up {
  file /run/rfha/haproxy.up
  weight 0 reverse
}

vrrp_instance edge {
  # Both nodes start as BACKUP and let priority decide: two nodes starting at once never both claim the address.
  state BACKUP
  interface $INTERFACE
  virtual_router_id 51
  priority $PRIORITY
  advert_int 0.05
  preempt_delay 10
  # No multicast on AWS: unicast to the peer, whose address the agent keeps current in peers.conf.
  unicast_src_ip $SRC_IP
  unicast_peer {
    include /etc/rfha/peers.conf
  }
  virtual_ipaddress {
    169.254.253.51/32 dev lo scope host
  }
  track_file {
    haproxy_up
  }
}
`,
  'haproxy-supervisor.sh': SUPERVISOR,
  'check-haproxy.sh': `#!/bin/sh
# Rendered by resilient-fleet HaproxyFailoverPair: healthy while the HAProxy master in the pid file lives.
pid="$(cat '/run/rfha/haproxy.pid' 2>/dev/null)" || exit 1
[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
`,
  'rfha-haproxy.service': `[Unit]
Description=HAProxy under the resilient-fleet supervisor (writes keepalived's track file)
After=network-online.target
Wants=network-online.target

[Service]
# The kernel hands every client port to HAProxy's one listener (TPROXY); the rules are loaded on every start, so
# they hold after a reboot, and again on reload, before HAProxy reads the new client list.
ExecStartPre=/usr/sbin/nft -f /etc/rfha/client-ports.nft
ExecStart=/bin/bash /etc/rfha/haproxy-supervisor.sh
ExecReload=/usr/sbin/nft -f /etc/rfha/client-ports.nft
# The servers' state is saved for the new worker, then the master is told to reload (SIGUSR2).
ExecReload=/usr/bin/node-24 /opt/rfha/agent/index.mjs reload
LimitNOFILE=101027
Restart=always
RestartSec=1
RuntimeDirectory=rfha
RuntimeDirectoryMode=0755
RuntimeDirectoryPreserve=yes
ReadWritePaths=/run/rfha
CapabilityBoundingSet=CAP_NET_ADMIN CAP_SETUID CAP_SETGID CAP_SYS_CHROOT CAP_SYS_RESOURCE
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
RestrictRealtime=yes
${HARDENING}

[Install]
WantedBy=multi-user.target
`,
  'rfha-keepalived.service': `[Unit]
Description=keepalived (unicast VRRP) for the resilient-fleet HAProxy pair
After=rfha-haproxy.service network-online.target
Wants=network-online.target

[Service]
# keepalived must find the track file when it starts: a file created after it started was followed by rename only,
# and HAProxy's death (written in place) went unnoticed. A missing file is written as down.
ExecStartPre=/bin/sh -c '[ -e /run/rfha/haproxy.up ] || echo 0 > /run/rfha/haproxy.up'
ExecStart=/usr/sbin/keepalived -n -l -D -f /etc/rfha/keepalived.conf -p /run/rfha/keepalived.pid -r /run/rfha/vrrp.pid -c /run/rfha/checkers.pid
ExecReload=/bin/kill -HUP $MAINPID
# However keepalived ended (stopped, killed, crashed), it is no longer master: drop the marker address it held.
# The agent sees the same from keepalived's pid files and stops acting as master.
ExecStopPost=-/usr/sbin/ip addr del 169.254.253.51/32 dev lo
Restart=always
RestartSec=1
RuntimeDirectory=rfha
RuntimeDirectoryMode=0755
RuntimeDirectoryPreserve=yes
ReadWritePaths=/run/rfha
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_SETUID CAP_SETGID CAP_KILL CAP_SYS_NICE
RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_UNIX AF_PACKET
${HARDENING}

[Install]
WantedBy=multi-user.target
`,
  'rfha-agent.service': `[Unit]
Description=resilient-fleet HAProxy pair agent (VRRP transitions in order, peer, app servers, address)
After=rfha-haproxy.service rfha-keepalived.service

[Service]
EnvironmentFile=/etc/rfha/node.env
ExecStart=/usr/bin/node-24 /opt/rfha/agent/index.mjs run
Restart=always
RestartSec=1
RuntimeDirectory=rfha
RuntimeDirectoryMode=0755
RuntimeDirectoryPreserve=yes
ReadWritePaths=/run/rfha /etc/rfha
CapabilityBoundingSet=CAP_KILL
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictRealtime=yes
${HARDENING}

[Install]
WantedBy=multi-user.target
`,
};

describe('the files HaproxyFailoverPair stages, at the defaults', () => {
  const files = staged();

  test('ships exactly these files', () => {
    expect(Object.keys(files).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  test.each(Object.keys(EXPECTED))('%s is exactly as expected', (name) => {
    expect(files[name]).toBe(EXPECTED[name]);
  });

  test('HAProxy may keep maxconn connections (LimitNOFILE = 2 x maxconn + client ports + 1024)', () => {
    expect(files['rfha-haproxy.service']).toContain('LimitNOFILE=101027\n');
  });

  test('no unit runs plain node: the agent runs on NODE_BIN', () => {
    for (const unit of ['rfha-haproxy.service', 'rfha-agent.service']) expect(files[unit]).toContain('/usr/bin/node-24 /opt/rfha/agent/index.mjs');
    expect(Object.values(files).join('\n')).not.toMatch(/(^|[\s=])(\/usr\/bin\/)?node (?!-)/m);
  });
});

describe('each option reaches the staged files', () => {
  test('advertInterval, failbackDelay and virtualRouterId reach keepalived.conf and the marker address everywhere', () => {
    const files = staged({ advertInterval: Duration.millis(100), failbackDelay: Duration.seconds(30), virtualRouterId: 77 });
    expect(files['keepalived.conf']).toContain('  virtual_router_id 77\n');
    expect(files['keepalived.conf']).toContain('  advert_int 0.1\n');
    expect(files['keepalived.conf']).toContain('  preempt_delay 30\n');
    expect(files['keepalived.conf']).toContain('    169.254.253.77/32 dev lo scope host\n');
    expect(files['rfha-keepalived.service']).toContain('ExecStopPost=-/usr/sbin/ip addr del 169.254.253.77/32 dev lo\n');
  });

  test('statsPort is HAProxy\'s local stats bind and the supervisor\'s readiness port', () => {
    const files = staged({ statsPort: 9999 });
    expect(files['haproxy.cfg']).toContain('  bind 127.0.0.1:9999\n');
    expect(files['haproxy-supervisor.sh']).toContain('} 3<>/dev/tcp/127.0.0.1/9999 2>/dev/null\n');
  });

  test('maxConnections sets maxconn and the file limit; backendCheckPort and maxBackendServers the backend head', () => {
    const files = staged({ maxConnections: 2000, backendCheckPort: 8080, maxBackendServers: 16 });
    expect(files['haproxy.cfg']).toContain('  maxconn 2000\n');
    expect(files['rfha-haproxy.service']).toContain('LimitNOFILE=5027\n');
    expect(files['app-backend.head']).toContain('  default-server check port 8080 inter 2000ms fall 2 rise 2\n  # slots: 16\n');
  });

  test('HAProxy keeps CAP_NET_BIND_SERVICE only when it binds a port below 1024 (its listener or stats port; client ports are not bound)', () => {
    const caps = 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_SETUID CAP_SETGID CAP_SYS_CHROOT CAP_SYS_RESOURCE';
    const clientBelow = staged({ minClientPort: 80, clients: [{ name: 'web', port: 443 }] });
    expect(clientBelow['rfha-haproxy.service']).toContain(`\n${caps}\n`);
    expect(clientBelow['client-ports.nft']).toContain('\n      443\n');
    expect(staged({ listenerPort: 843 })['rfha-haproxy.service']).toContain(`\n${caps} CAP_NET_BIND_SERVICE\n`);
    expect(staged({ statsPort: 404 })['rfha-haproxy.service']).toContain(`\n${caps} CAP_NET_BIND_SERVICE\n`);
    expect(EXPECTED['rfha-haproxy.service']).toContain(`\n${caps}\n`);
  });

  test('listenerPort reaches the listener and the TPROXY rule', () => {
    const files = staged({ listenerPort: 7777 });
    expect(files['haproxy.cfg']).toContain('\n  bind 127.0.0.1:7777 transparent\n');
    expect(files['client-ports.nft']).toContain(' tproxy to 127.0.0.1:7777\n');
  });

  test('vpnVirtualIp: a unit puts the address on lo on every start, before HAProxy, which wants it', () => {
    const files = staged({ vpnVirtualIp: '172.31.255.10' });
    expect(files['rfha-vpn-address.service']).toContain('Type=oneshot\nRemainAfterExit=yes\nExecStart=/usr/sbin/ip addr replace 172.31.255.10/32 dev lo\n');
    expect(files['rfha-vpn-address.service']).toContain('Before=rfha-haproxy.service\n');
    expect(files['rfha-vpn-address.service']).toContain('WantedBy=multi-user.target\n');
    expect(files['rfha-haproxy.service']).toContain('Wants=network-online.target rfha-vpn-address.service\n');
    expect(EXPECTED['rfha-haproxy.service']).not.toContain('rfha-vpn-address');
  });

  test('backendName: HAProxy resolves the name, and a reloaded worker starts from the old one\'s servers', () => {
    const files = staged({ backendName: 'app.example.com' });
    expect(files['app-backend.cfg']).toBe(
      files['app-backend.head'] + '  server-template app 64 app.example.com resolvers vpc resolve-prefer ipv4 init-addr last,none check\n',
    );
    expect(files['haproxy.cfg']).toContain('  server-state-file /run/rfha/server-state\n');
    expect(files['haproxy.cfg']).toContain('  option dontlognull\n  load-server-state-from-file global\n  option redispatch\n');
    expect(EXPECTED['haproxy.cfg']).not.toContain('server-state');
  });
});

describe('more options reach the staged files', () => {
  test('LimitNOFILE counts every client port: 2 x maxconn + clients + 1024', () => {
    const five = [...CLIENTS, { name: 'hooli', port: 9004 }, { name: 'umbrella', port: 9010 }];
    expect(staged({ clients: five })['rfha-haproxy.service']).toContain('\nLimitNOFILE=101029\n');
    expect(staged({ clients: [{ name: 'solo', port: 9001 }], maxConnections: 100 })['rfha-haproxy.service']).toContain('\nLimitNOFILE=1225\n');
  });

  test('a failbackDelay in minutes and a whole-second advertInterval are written in keepalived\'s seconds', () => {
    const conf = staged({ advertInterval: Duration.seconds(1), failbackDelay: Duration.minutes(2) })['keepalived.conf'];
    expect(conf).toContain('\n  advert_int 1\n');
    expect(conf).toContain('\n  preempt_delay 120\n');
  });

  test('the clients of a clientsFile reach the frontend and the maps', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rfha-clients-'));
    try {
      const file = path.join(dir, 'clients.json');
      fs.writeFileSync(file, JSON.stringify({ clients: [{ name: 'acme', port: 9101 }, { name: 'globex', port: 9105, backendPort: 7105 }] }));
      const files = staged({ clientsFile: file });
      expect(files['client-ports.nft']).toContain('\n      9101, 9105\n');
      expect(files['clients.map']).toBe('9101 acme\n9105 globex\n');
      expect(files['backend-ports.map']).toBe('9101 9101\n9105 7105\n');
      expect(files['restricted-ports.map']).toBe('');
      expect(files['rfha-haproxy.service']).toContain('\nLimitNOFILE=101026\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the snapshot serializer shows the staged files', () => {
  test('a template\'s snapshot carries every file of the Config asset (the agent bundle is code, left out)', () => {
    const { stack } = pairIn();
    const shown = serializer.withStagedFiles(Template.fromStack(stack).toJSON());
    expect(shown['[staged asset files]']).toEqual([EXPECTED]);
  });

  test('a changed rendered setting changes the snapshot', () => {
    const snapshotOf = (extra: Partial<HaproxyFailoverPairProps>) => serializer.withStagedFiles(Template.fromStack(pairIn(extra).stack).toJSON())['[staged asset files]'] as Array<Record<string, string>>;
    const [files] = snapshotOf({ virtualRouterId: 52 });
    expect(files['keepalived.conf']).toBe(EXPECTED['keepalived.conf'].replace('virtual_router_id 51', 'virtual_router_id 52').replace('169.254.253.51/32', '169.254.253.52/32'));
    expect(files['rfha-keepalived.service']).toBe(EXPECTED['rfha-keepalived.service'].replace('169.254.253.51/32', '169.254.253.52/32'));
    expect(files['haproxy.cfg']).toBe(EXPECTED['haproxy.cfg']);
  });
});
