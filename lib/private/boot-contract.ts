/**
 * The boot contract: the one user-data program every resilient-fleet instance boots with.
 *
 * Pure renderer (no aws-cdk-lib): plain values in, bash out. Values such as the region may be CloudFormation
 * tokens; they are only interpolated. What the rendered script does:
 * - strict mode (`set -Eeuo pipefail`); each named step is a shell function run through `step <name> <fn>`, its
 *   output kept in /var/log/resilient-fleet/step-<name>.log and appended to boot.log;
 * - a failed step (a failing command, an unset variable, any non-zero exit) is reported with its name, the failed
 *   command and the tail of its output on stdout (cloud-init copies it to the console, which LaunchLoopGuard
 *   reads) and in boot.log, and the launch lifecycle action is completed with ABANDON, so the group replaces the
 *   instance; after the last step, the action is completed with CONTINUE (once);
 * - `retry` (bounded total time, exponential backoff with jitter, a timeout per attempt) around every download,
 *   package install and AWS call; AWS calls are retried on any error that may be transient, AccessDenied and
 *   UnauthorizedOperation included (a fresh IAM grant is denied for seconds), but not on validation errors.
 *
 * What the script calls on the instance: curl to IMDSv2, dnf/rpm, the AWS CLI (v2 on Amazon Linux 2023),
 * systemctl, useradd/groupadd, install, unzip, timeout and coreutils. The group name comes from the instance
 * metadata tag `aws:autoscaling:groupName` (the launch template enables instance metadata tags): user data cannot
 * name its own group without a dependency cycle.
 *
 * The budgets and the log directory may be changed at run time through the environment (RF_RETRY_BUDGET_S,
 * RF_BOOT_BUDGET_S, RF_ATTEMPT_TIMEOUT_S, RF_LOG_DIR), which only a boot lab or a test does; the rendered defaults
 * fit the group's heartbeat timeout.
 */

import { Stack, aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledgeNag, nagRender } from './nag';
import { NODE_BIN, NODE_PACKAGE } from './node-runtime';

/** Name of the launch lifecycle hook inside every group (fixed, so user data can name it without a cycle). */
export const BOOT_LIFECYCLE_HOOK_NAME = 'resilient-fleet-boot';

/**
 * Tag key on each group (not on its instances) whose value identifies the group: the instances' permission to
 * complete their group's launch action is scoped by it (`aws:ResourceTag`), because a policy that names the group
 * could not be created before the group, and the group must wait for the policies its instances use at boot.
 */
export const FLEET_GROUP_TAG_KEY = 'resilient-fleet:group';

/** Where the boot writes its log (and one log per step). */
export const BOOT_LOG_DIR = '/var/log/resilient-fleet';

/** Default time one retried call may take, all attempts together (seconds). */
export const DEFAULT_RETRY_BUDGET_S = 300;
/** Default time the whole boot may take before it gives up (seconds). */
export const DEFAULT_BOOT_BUDGET_S = 1500;
/** Default limit of one attempt of a retried program (seconds). */
export const DEFAULT_ATTEMPT_TIMEOUT_S = 300;

/**
 * The launch hook's heartbeat timeout for a boot budget: the whole budget, plus the time to report a failure
 * (the ABANDON call's own retries) and slack for cloud-init starting the script.
 */
export function bootHeartbeatTimeoutS(bootBudgetS: number = DEFAULT_BOOT_BUDGET_S): number {
  return bootBudgetS + 300;
}

/**
 * The launch lifecycle hook to put inside a group's definition (CfnAutoScalingGroup `lifecycleHookSpecificationList`,
 * not a separate AWS::AutoScaling::LifecycleHook, which misses the group's first instances: aws-cdk#7712).
 * DefaultResult ABANDON: an instance whose boot never reports is replaced when the heartbeat timeout ends.
 */
export function bootLifecycleHookSpecification(bootBudgetS: number = DEFAULT_BOOT_BUDGET_S) {
  return {
    lifecycleHookName: BOOT_LIFECYCLE_HOOK_NAME,
    lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
    heartbeatTimeout: bootHeartbeatTimeoutS(bootBudgetS),
    defaultResult: 'ABANDON',
  };
}

/** One named step of the boot: a shell function body. */
export interface BootStep {
  /** Lower-case letters, digits and '-' (it names the function and the step's log file). */
  readonly name: string;
  /** Bash lines of the step's body. They may use the contract's helpers: retry, retry_aws, imds, s3_get, dnf_install. */
  readonly commands: string[];
}

/** Options of `renderBootScript`. */
export interface BootScriptOptions {
  /** The steps, in order. After the last one, the launch lifecycle action is completed with CONTINUE. */
  readonly steps: readonly BootStep[];
  /** Name of the group's launch lifecycle hook. */
  readonly lifecycleHookName: string;
  /** The region for the AWS CLI (may be a token). */
  readonly region: string;
  /** Seconds one retried call may take. @default DEFAULT_RETRY_BUDGET_S */
  readonly retryBudgetSeconds?: number;
  /** Seconds the whole boot may take. @default DEFAULT_BOOT_BUDGET_S */
  readonly bootBudgetSeconds?: number;
  /** A comment line naming what boots (for a person reading the console). @default 'resilient-fleet instance' */
  readonly description?: string;
}

const STEP_NAME = /^[a-z][a-z0-9-]*$/;

/** Bash function name of a step. */
function stepFunction(name: string): string {
  return `rf_step_${name.replace(/-/g, '_')}`;
}

/** The whole user data (bash) for a launch template. */
export function renderBootScript(o: BootScriptOptions): string {
  const names = new Set<string>();
  for (const s of o.steps) {
    if (!STEP_NAME.test(s.name)) throw new Error(`boot step name "${s.name}": use lower-case letters, digits and "-", starting with a letter`);
    if (names.has(s.name)) throw new Error(`boot step name "${s.name}" is used twice: give each step its own name`);
    names.add(s.name);
  }
  const retryBudget = o.retryBudgetSeconds ?? DEFAULT_RETRY_BUDGET_S;
  const bootBudget = o.bootBudgetSeconds ?? DEFAULT_BOOT_BUDGET_S;
  const functions = o.steps.map((s) => [`${stepFunction(s.name)}() {`, ...s.commands, '}'].join('\n')).join('\n\n');
  const calls = o.steps.map((s) => `step ${s.name} ${stepFunction(s.name)}`).join('\n');
  return `#!/bin/bash
# resilient-fleet boot contract: ${o.description ?? 'resilient-fleet instance'}
# Every step must succeed; then the launch lifecycle action is completed with CONTINUE. A failed step is
# reported (name, command, output) on the console and in ${BOOT_LOG_DIR}/boot.log, and the action is
# completed with ABANDON, so the Auto Scaling group replaces this instance.
set -Eeuo pipefail
umask 022
export AWS_REGION=${q(o.region)} AWS_DEFAULT_REGION=${q(o.region)} AWS_PAGER=''
: "\${RF_LOG_DIR:=${BOOT_LOG_DIR}}"
readonly RF_BOOT_LOG="$RF_LOG_DIR/boot.log"
readonly RF_HOOK_NAME=${q(o.lifecycleHookName)}
: "\${RF_RETRY_BUDGET_S:=${retryBudget}}"
: "\${RF_BOOT_BUDGET_S:=${bootBudget}}"
: "\${RF_ATTEMPT_TIMEOUT_S:=${DEFAULT_ATTEMPT_TIMEOUT_S}}"
readonly RF_DEADLINE=$((SECONDS + RF_BOOT_BUDGET_S))
rf_step=init
rf_step_log=/dev/null
rf_failed_command=
rf_done=0
rf_permanent=0
mkdir -p "$RF_LOG_DIR"
: > "$RF_LOG_DIR/retries.log"
# fd 8 is the boot's own stdout (the console): steps' output goes to their log files.
exec 8>&1

# rf_say MESSAGE: one line on the console and in boot.log.
rf_say() {
  printf '%s resilient-fleet-boot: %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" | tee -a "$RF_BOOT_LOG" >&8
}

# rf_note MESSAGE: one line in the current step's output (stderr) and in boot.log.
rf_note() {
  printf '%s resilient-fleet-boot: %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" | tee -a "$RF_BOOT_LOG" >&2
}

rf_on_err() {
  rf_failed_command=$2
  exit "$1"
}

rf_on_exit() {
  local status=$?
  [ "$BASHPID" = "$$" ] || return "$status"
  trap - ERR
  set +e
  if [ "$rf_done" = 1 ]; then
    return 0
  fi
  [ "$status" -ne 0 ] || status=1
  rf_say "FAILED step $rf_step (exit $status): \${rf_failed_command:-see its output}"
  if [ -s "$rf_step_log" ]; then
    cat "$rf_step_log" >> "$RF_BOOT_LOG"
    rf_say "last lines of step $rf_step:"
    tail -n 40 "$rf_step_log" | sed "s/^/[$rf_step] /" | tee -a "$RF_BOOT_LOG" >&8
  fi
  rf_say "completing the launch lifecycle action with ABANDON: the group replaces this instance"
  RF_RETRY_BUDGET_S=60
  if rf_complete ABANDON 2>&1 | sed 's/^/[abandon] /' | tee -a "$RF_BOOT_LOG" >&8; then
    rf_say "lifecycle action ABANDON sent"
  else
    rf_say "could not complete the lifecycle action; the hook's timeout abandons it (DefaultResult ABANDON)"
  fi
  exit "$status"
}
trap 'rf_on_err $? "$BASH_COMMAND"' ERR
trap rf_on_exit EXIT

# retry COMMAND [ARGS...]: runs COMMAND until it succeeds, with exponential backoff (1 s doubling to 30 s, jittered),
# for at most RF_RETRY_BUDGET_S seconds and never past the boot's deadline. A program (not a shell function) gets
# RF_ATTEMPT_TIMEOUT_S per attempt. A wrapper that sets rf_permanent=1 stops the retries (an error no retry fixes).
retry() {
  local start=$SECONDS attempt=1 delay=1 status ms
  while true; do
    rf_permanent=0
    if rf_attempt "$@"; then
      [ "$attempt" -eq 1 ] || rf_note "retry: $1 succeeded at attempt $attempt after $((SECONDS - start)) s"
      return 0
    else
      status=$?
    fi
    if [ "$rf_permanent" = 1 ]; then
      rf_note "retry: $1 failed with an error that no retry fixes (exit $status)"
      return "$status"
    fi
    if [ $((SECONDS - start + delay)) -gt "$RF_RETRY_BUDGET_S" ] || [ $((SECONDS + delay)) -gt "$RF_DEADLINE" ]; then
      rf_note "retry: $1 still failing after $attempt attempts and $((SECONDS - start)) s (exit $status): giving up"
      return "$status"
    fi
    ms=$((delay * 500 + RANDOM % (delay * 500 + 1)))
    rf_note "retry: $1 failed (exit $status), attempt $attempt; next in $((ms / 1000)).$((ms % 1000 / 100)) s"
    echo "$rf_step $1" >> "$RF_LOG_DIR/retries.log"
    sleep "$((ms / 1000)).$((ms % 1000 / 100))"
    attempt=$((attempt + 1))
    delay=$((delay * 2 > 30 ? 30 : delay * 2))
  done
}

rf_attempt() {
  if [ "$(type -t "$1")" = file ]; then
    timeout -k 10 "$RF_ATTEMPT_TIMEOUT_S" "$@"
  else
    "$@"
  fi
}

# rf_aws_once ARGS...: one AWS CLI call; a validation error (a bad request, not a transient state) is permanent.
# AccessDenied / UnauthorizedOperation / 403 are retried: right after a role or policy is created, IAM denies for seconds.
rf_aws_once() {
  local err="$RF_LOG_DIR/.aws-stderr" status=0 text
  timeout -k 10 "$RF_ATTEMPT_TIMEOUT_S" aws "$@" 2> "$err" || status=$?
  text="$(cat "$err")"
  [ -z "$text" ] || printf '%s\\n' "$text" >&2
  [ "$status" -ne 0 ] || return 0
  if [[ "$text" == *AccessDenied* || "$text" == *UnauthorizedOperation* || "$text" == *"(403)"* ]]; then
    rf_note "aws $1 $2: denied (IAM propagation?); retrying"
  elif [[ "$text" == *ValidationError* || "$text" == *InvalidParameter* || "$text" == *"Invalid choice"* || "$text" == *ParamValidation* ]]; then
    rf_permanent=1
  fi
  return "$status"
}

# retry_aws ARGS...: an AWS CLI call, retried (see rf_aws_once).
retry_aws() {
  retry rf_aws_once "$@"
}

rf_imds_once() {
  local token
  token="$(curl -fsS -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token)" || return
  curl -fsS -m 5 -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/$1"
}

# imds PATH: prints an instance metadata value (IMDSv2), for example imds meta-data/instance-id.
imds() {
  retry rf_imds_once "$1"
}

# s3_get S3_URL FILE: downloads one object (retried); FILE appears only when complete.
s3_get() {
  retry_aws s3 cp --only-show-errors "$1" "$2.part"
  mv -f "$2.part" "$2"
}

rf_dnf_once() {
  local out="$RF_LOG_DIR/.dnf-output" status=0
  timeout -k 10 "$RF_ATTEMPT_TIMEOUT_S" dnf install -y "$@" > "$out" 2>&1 || status=$?
  cat "$out" >&2
  [ "$status" -ne 0 ] || return 0
  # A package the repositories do not have: no retry brings it (dnf 4 and dnf 5 wordings).
  if grep -Eq 'No match for argument|Unable to find a match|No package .* available' "$out"; then
    rf_permanent=1
  fi
  return "$status"
}

# dnf_install PACKAGE...: installs the packages that are not installed yet (retried).
dnf_install() {
  local missing=() p
  for p in "$@"; do
    rpm -q "$p" > /dev/null 2>&1 || missing+=("$p")
  done
  [ "\${#missing[@]}" -eq 0 ] || retry rf_dnf_once "\${missing[@]}"
}

rf_complete_once() {
  local err="$RF_LOG_DIR/.aws-stderr" status=0 text
  timeout -k 10 60 aws autoscaling complete-lifecycle-action --lifecycle-hook-name "$RF_HOOK_NAME" \\
    --auto-scaling-group-name "$3" --instance-id "$2" --lifecycle-action-result "$1" 2> "$err" || status=$?
  text="$(cat "$err")"
  [ "$status" -ne 0 ] || return 0
  printf '%s\\n' "$text" >&2
  if [[ "$text" == *"No active Lifecycle Action"* ]]; then
    # An explicit status: a bare return in the EXIT trap (the ABANDON path) would return the failed step's.
    rf_no_active_action "$@" || return 1
    return 0
  fi
  [[ "$text" != *ValidationError* ]] || rf_permanent=1
  return "$status"
}

# rf_no_active_action RESULT INSTANCE GROUP: the launch action is gone (the hook timed out, someone completed it, or
# the group has no such hook). The instance's own lifecycle state decides: a Terminating (or Terminated) instance
# fails a CONTINUE for good, so the boot stops before anything else runs; an ABANDON of an instance that is still
# InService (or Standby) marks it Unhealthy, so the group replaces it all the same.
rf_no_active_action() {
  local state
  state="$(timeout -k 10 60 aws autoscaling describe-auto-scaling-instances --instance-ids "$2" \
    --query 'AutoScalingInstances[0].LifecycleState' --output text)" || return 1
  rf_note "no active launch lifecycle action for $2; its lifecycle state is $state"
  case "$1:$state" in
    CONTINUE:Terminat*)
      rf_note "$2 is $state: the boot stops here"
      rf_permanent=1
      return 1
      ;;
    ABANDON:InService | ABANDON:Standby)
      rf_note "marking $2 Unhealthy so that the group replaces it"
      timeout -k 10 60 aws autoscaling set-instance-health --instance-id "$2" --health-status Unhealthy
      ;;
  esac
}

# rf_complete CONTINUE|ABANDON: completes this instance's launch lifecycle action in its own group.
rf_complete() {
  local instance group
  instance="$(imds meta-data/instance-id)"
  group="$(imds meta-data/tags/instance/aws:autoscaling:groupName)"
  retry rf_complete_once "$1" "$instance" "$group"
}

# step NAME FUNCTION: runs one step, its output in its own log; a failure ends the boot (see rf_on_exit).
step() {
  local started=$SECONDS
  rf_step=$1
  rf_step_log="$RF_LOG_DIR/step-$1.log"
  rf_say "step $1: start"
  "$2" > "$rf_step_log" 2>&1 < /dev/null
  cat "$rf_step_log" >> "$RF_BOOT_LOG"
  rf_say "step $1: ok in $((SECONDS - started)) s"
}

${functions}

rf_step_lifecycle_continue() {
  rf_complete CONTINUE
}

rf_say "boot start (retry budget \${RF_RETRY_BUDGET_S} s per call, \${RF_BOOT_BUDGET_S} s in all)"
${calls}
step lifecycle-continue rf_step_lifecycle_continue
rf_done=1
rf_say "boot complete in \${SECONDS} s, $(wc -l < "$RF_LOG_DIR/retries.log") retries; lifecycle action CONTINUE sent"
`;
}

/**
 * The policy a boot needs when its launch action is gone ("No active Lifecycle Action found"): it reads its own
 * lifecycle state (DescribeAutoScalingInstances, which has no resource-level permissions) and, when a failed boot
 * finds itself InService or Standby, marks itself Unhealthy (SetInstanceHealth, only on groups with the tag value).
 * Attached to the role; the groups must depend on it like on every boot policy.
 */
export function bootLifecycleStatePolicy(scope: Construct, id: string, role: iam.IRole, groupsArn: string, groupTagValue: string): iam.Policy {
  const policy = new iam.Policy(scope, id, {
    statements: [
      new iam.PolicyStatement({
        sid: 'MarkOwnGroupsInstanceUnhealthy',
        actions: ['autoscaling:SetInstanceHealth'],
        resources: [groupsArn],
        conditions: { StringEquals: { [`aws:ResourceTag/${FLEET_GROUP_TAG_KEY}`]: groupTagValue } },
      }),
      new iam.PolicyStatement({ sid: 'ReadLifecycleState', actions: ['autoscaling:DescribeAutoScalingInstances'], resources: ['*'] }),
    ],
  });
  policy.attachToRole(role);
  acknowledgeNag(
    policy,
    'AwsSolutions-IAM5',
    'An Auto Scaling group ARN holds a random id and the group cannot be named here without a dependency cycle; the aws:ResourceTag condition limits SetInstanceHealth to the groups with this tag value.',
    `Resource::${nagRender(Stack.of(scope), groupsArn)}`,
  );
  acknowledgeNag(
    policy,
    'AwsSolutions-IAM5',
    'DescribeAutoScalingInstances has no resource-level permissions; a boot whose launch action is gone reads its own lifecycle state with it (a Terminating instance goes no further).',
    'Resource::*',
  );
  return policy;
}

/** Options of `nodeRuntimeStep`. */
export interface NodeRuntimeStepOptions {
  /** The package to install. @default NODE_PACKAGE */
  readonly nodePackage?: string;
  /** The executable to check. @default NODE_BIN */
  readonly nodeBin?: string;
}

/**
 * The step that installs the supported Node runtime (NODE_PACKAGE) and checks that NODE_BIN runs and is Node 20
 * or newer. A repository without the package fails this step at once (no retry brings a package back).
 */
export function nodeRuntimeStep(o: NodeRuntimeStepOptions = {}): BootStep {
  const pkg = o.nodePackage ?? NODE_PACKAGE;
  const bin = o.nodeBin ?? NODE_BIN;
  return {
    name: 'node-runtime',
    commands: [
      `dnf_install ${q(pkg)}`,
      'local version major',
      `version="$(${q(bin)} --version)"`,
      'major="${version#v}"',
      'major="${major%%.*}"',
      'if ! [[ "$major" =~ ^[0-9]+$ ]] || [ "$major" -lt 20 ]; then',
      `  echo ${q(`${bin} is `)}"$version"${q(`: instance programs need Node 20 or newer (package ${pkg})`)} >&2`,
      '  return 1',
      'fi',
      `echo ${q(`${bin} `)}"$version"`,
    ],
  };
}

/** Quotes a value for bash (single quotes). Tokens stay inside the quotes. */
function q(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Quotes a value for a bash line of a step (exported for constructs that build steps). */
export const shellQuote = q;
