// examples/queue-worker-fleet.ts: SQS workers scaled on the backlog per worker, from zero and back to zero, never
// terminated in the middle of a job. Synthesize: npx cdk synth --app "npx tsx examples/queue-worker-fleet.ts"
import { App, Duration, Stack, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { QueueWorkerFleet } from 'resilient-fleet';

const app = new App();
const stack = new Stack(app, 'Workers');
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3 });

const workers = new QueueWorkerFleet(stack, 'Workers', {
  vpc,
  machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-0123456789abcdef0' }), // x86_64 Amazon Linux 2023
  maxCapacity: 20,
  acceptableLatency: Duration.minutes(10), // a new message waits at most this long once workers run
  averageJobDuration: Duration.minutes(2), // -> target backlog per worker: 10 / 2 = 5 messages
  jobTimeout: Duration.minutes(30), // a terminating worker waits this long for its running job
  spot: true, // optional: Spot above onDemandBaseCapacity, with capacity rebalancing
});
// Your worker: job-guard receives one message, then runs your job for it (body on stdin) protected from scale-in,
// and deletes the message when the job exits 0. The queue URL is in /etc/queue-worker.env.
workers.addUserData(
  "cat > /usr/local/bin/queue-worker-loop <<'EOF'",
  '#!/bin/sh',
  'while true; do',
  '  job-guard --queue-url "$QUEUE_URL" -- /opt/app/process-one-job',
  '  [ $? -eq 75 ] && sleep 10   # 75: this worker is leaving; the message went back to the queue',
  'done',
  'EOF',
  'chmod 755 /usr/local/bin/queue-worker-loop',
  "cat > /etc/systemd/system/queue-worker.service <<'EOF'",
  '[Service]',
  'EnvironmentFile=/etc/queue-worker.env',
  'ExecStartPre=/usr/local/bin/job-guard --release',
  'ExecStart=/usr/local/bin/queue-worker-loop',
  'Restart=always',
  '[Install]',
  'WantedBy=multi-user.target',
  'EOF',
  'systemctl daemon-reload && systemctl enable --now queue-worker',
);
workers.fleet.guardLaunchLoops(); // failed launches (no capacity in any type/AZ, a bad AMI) show up in LaunchLoopGuard

app.synth();
