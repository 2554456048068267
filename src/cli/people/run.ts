// `run SCHEDULE`: asks for one run now by setting a fresh courier.dev/run-now
// token on the ScanSchedule; the controller runs once per new token. With
// --wait it follows the controller until it took the token, and prints the
// Job it created, or why it skipped the run.
import { createHash, randomBytes } from 'node:crypto';
import { BatchV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { GROUP, RUN_NOW_ANNOTATION, SCAN_SCHEDULES, VERSION, type ScanSchedule } from '../../api/v1alpha1/index.ts';
import type { RunConfig } from '../../config/people-commands.ts';
import { ExitCode } from '../../runtime/exit-codes.ts';
import { CommandFailed, connectToCluster, isApiError } from './cluster.ts';
import type { Terminal } from './prompt.ts';
import { pollFor } from './wait.ts';

const RESOURCE = { group: GROUP, version: VERSION, plural: SCAN_SCHEDULES.plural };

/** A token no earlier request used: when it was asked for, and random bits against two asking at once. */
export function runNowToken(now = new Date()): string {
  return `${now.toISOString()}-${randomBytes(4).toString('hex')}`;
}

/**
 * The name of the Job the ScanSchedule controller creates for a run-now token
 * (src/controllers/scanschedule/reconciler.ts names it so, which makes a
 * second manager find the Job instead of making another).
 */
export function runNowJobName(schedule: string, token: string): string {
  return `${schedule.slice(0, 40)}-now-${createHash('sha256').update(token).digest('hex').slice(0, 10)}`;
}

export async function runSchedule(name: string, config: RunConfig, terminal: Terminal): Promise<number> {
  const { kubeConfig, namespace } = connectToCluster(config);
  const objects = kubeConfig.makeApiClient(CustomObjectsApi);
  const token = runNowToken();
  try {
    await objects.patchNamespacedCustomObject(
      { ...RESOURCE, namespace, name, body: { metadata: { annotations: { [RUN_NOW_ANNOTATION]: token } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  } catch (error) {
    if (isApiError(error, 404)) throw new CommandFailed(`ScanSchedule ${name} not found in namespace ${namespace}`);
    throw error;
  }
  terminal.stdout.write(`scanschedule.courier.dev/${name} run requested (${RUN_NOW_ANNOTATION}=${token})\n`);
  if (!config.wait) return ExitCode.ok;

  terminal.stderr.write(`waiting up to ${config.timeout / 1000}s for the controller to start the run…\n`);
  const taken = await pollFor(async () => {
    const ss = (await objects.getNamespacedCustomObject({ ...RESOURCE, namespace, name })) as ScanSchedule;
    return ss.status?.lastRunNowToken === token ? ss : undefined;
  }, config.timeout);
  if (!taken)
    throw new CommandFailed(
      `timed out: the controller has not acted on the run-now token; is the Courier manager running?`,
    );

  const jobName = runNowJobName(name, token);
  const batch = kubeConfig.makeApiClient(BatchV1Api);
  const job = await batch.readNamespacedJob({ name: jobName, namespace }).catch((error: unknown) => {
    if (isApiError(error, 404)) return undefined;
    throw error;
  });
  if (job) {
    terminal.stdout.write(`job.batch/${jobName}\n`);
    return ExitCode.ok;
  }
  const skipped = taken.status?.conditions?.find((c) => c.type === 'RunSkipped' && c.status === 'True');
  throw new CommandFailed(
    skipped
      ? `the run was skipped: ${skipped.reason}: ${skipped.message}`
      : `the controller took the token but Job ${jobName} does not exist`,
  );
}
