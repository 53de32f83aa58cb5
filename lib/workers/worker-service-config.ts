/**
 * Pure renderers of what a QueueWorkerFleet worker runs: the job-guard wrapper, the worker loop and its systemd unit.
 * No aws-cdk-lib: plain values in, text out.
 *
 * The loop and every job run as an unprivileged system user (`WORKER_USER`), never root: message bodies are
 * untrusted input. The unit adds systemd's sandboxing: no new privileges, a read-only system (only the worker's
 * state directory and /run/job-guard are writable), no home directories, a private /tmp and /dev, no capabilities.
 */

import { SYSTEMD_HARDENING } from '../private/systemd-hardening';
import { NODE_BIN } from '../private/node-runtime';

/** The system user (and group) the worker loop and its jobs run as. */
export const WORKER_USER = 'queue-worker';
/** Writable directory of the jobs (systemd StateDirectory, owned by `WORKER_USER`). */
export const WORKER_STATE_DIR = '/var/lib/queue-worker';
/** Where job-guard is installed (the bundle's index.mjs). */
export const JOB_GUARD_DIR = '/opt/job-guard';
/** The job-guard command. */
export const JOB_GUARD_BIN = '/usr/local/bin/job-guard';
/** The worker loop. */
export const WORKER_LOOP_BIN = '/usr/local/bin/queue-worker-loop';
/** The environment file of the unit (QUEUE_URL). */
export const WORKER_ENV_FILE = '/etc/queue-worker.env';
/** The unit's name. */
export const WORKER_UNIT = 'queue-worker.service';

/** The job-guard command: the bundle run by the supported Node runtime. */
export function renderJobGuardWrapper(): string {
  return `#!/bin/sh
exec ${NODE_BIN} ${JOB_GUARD_DIR}/index.mjs "$@"
`;
}

/**
 * The loop: one job at a time under job-guard (job-guard receives a message unprotected, runs `jobCommand` for it
 * protected from scale-in with the body on stdin, deletes the message on success). Exit 75: the instance is leaving
 * and the message was handed back, so wait before asking again.
 * `jobCommand` is a command line (a program and its arguments), inserted as is.
 */
export function renderWorkerLoop(jobCommand: string): string {
  return `#!/bin/bash
# resilient-fleet QueueWorkerFleet: one job at a time under job-guard, as ${WORKER_USER}.
set -u
while true; do
  status=0
  ${JOB_GUARD_BIN} --queue-url "$QUEUE_URL" -- ${jobCommand} || status=$?
  if [ "$status" -eq 75 ]; then
    sleep 10
  fi
done
`;
}

/** The hardened systemd unit of the loop. */
export function renderWorkerUnit(): string {
  return `[Unit]
Description=Queue worker: one job at a time under job-guard (resilient-fleet)
After=network-online.target
Wants=network-online.target

[Service]
User=${WORKER_USER}
Group=${WORKER_USER}
EnvironmentFile=${WORKER_ENV_FILE}
Environment=JOB_GUARD_STATE_DIR=/run/job-guard
RuntimeDirectory=job-guard
RuntimeDirectoryMode=0750
StateDirectory=${WORKER_STATE_DIR.replace('/var/lib/', '')}
StateDirectoryMode=0750
WorkingDirectory=${WORKER_STATE_DIR}
ExecStartPre=${JOB_GUARD_BIN} --release
ExecStart=${WORKER_LOOP_BIN}
Restart=always
RestartSec=5
UMask=0027
${SYSTEMD_HARDENING}
RestrictRealtime=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
CapabilityBoundingSet=
AmbientCapabilities=

[Install]
WantedBy=multi-user.target
`;
}
