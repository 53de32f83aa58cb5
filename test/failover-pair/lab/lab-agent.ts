/**
 * The node agent's follower in the failover-pair lab: the same VrrpFollower the agent's `run` uses, on the same
 * files (/etc/rfha and /run/rfha, mounted per node by the lab), with one difference: the address move is a route
 * change in the lab's client namespace (the stand-in for AssociateAddress / ReplaceRoute), and "is the address
 * here" reads that route. Prints one JSON line per event, with the time, for the tests' and benchmark's timings.
 *   tsx lab-agent.ts <client netns> <vip/32> <this node's address> <recheck ms>
 */
import { execFile } from 'child_process';
import { promisify } from 'util';
import { followerFiles } from '../../../instance/failover-pair-agent/agent';
import { probeKeepalived, VrrpFollower } from '../../../instance/failover-pair-agent/follower';

const run = promisify(execFile);
const [clientNs, vip, self, recheckMs] = process.argv.slice(2);
const out = (e: Record<string, unknown>) => process.stdout.write(JSON.stringify({ t: Date.now(), ...e }) + '\n');

async function takeAddress(stillMaster: () => boolean): Promise<string> {
  if (!stillMaster()) return 'abandoned';
  const { stdout } = await run('ip', ['-n', clientNs, 'route', 'show', vip]);
  if (stdout.includes(`via ${self} `)) return 'already-here';
  // Re-checked right before the exclusive move, as moveElasticIp does before AssociateAddress.
  if (!stillMaster()) return 'abandoned';
  await run('ip', ['-n', clientNs, 'route', 'replace', vip, 'via', self]);
  return 'moved';
}

const files = followerFiles({ configDir: '/etc/rfha', runDir: '/run/rfha' });
const follower = new VrrpFollower({
  fifo: files.fifo,
  stateFile: files.stateFile,
  probe: () => probeKeepalived(files.pidFiles),
  takeAddress,
  recheckMs: Number(recheckMs),
  onEvent: out,
});
follower.start();
out({ msg: 'started' });
process.on('SIGTERM', () => {
  follower.stop();
  process.exit(0);
});
