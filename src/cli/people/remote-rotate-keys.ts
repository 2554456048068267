// `kubectl courier rotate-keys`: runs `courier rotate-keys` where it must run
// (the manager's identity and configuration), in the leading manager's pod,
// through the Kubernetes exec API. Its output streams here as it comes, and
// its exit code becomes ours.
import { CoreV1Api, Exec, type V1Pod, type V1Status } from '@kubernetes/client-node';
import { ConfigError } from '../../config/errors.ts';
import type { KubectlRotateKeysConfig } from '../../config/people-commands.ts';
import { ExitCode } from '../../runtime/exit-codes.ts';
import { CommandFailed, connectToCluster, describeError, isApiError } from './cluster.ts';
import { chooseManagerPod, listManagerPods, managerContainer, readLeader, type ChosenPod } from './manager-pods.ts';
import type { Terminal } from './prompt.ts';

/** The command line run in the pod; the image's program is `courier`. */
export function remoteCommand(config: Pick<KubectlRotateKeysConfig, 'kek' | 'tenants' | 'allTenants'>): string[] {
  if (!config.kek && !config.tenants && !config.allTenants) {
    throw new ConfigError(['say what to rotate: --kek, --tenants <namespaces> or --all-tenants']);
  }
  return [
    'courier',
    'rotate-keys',
    ...(config.kek ? ['--kek'] : []),
    ...(config.tenants ? ['--tenants', config.tenants.join(',')] : []),
    ...(config.allTenants ? ['--all-tenants'] : []),
  ];
}

/**
 * The remote command's exit code from the status the exec API ends with:
 * Success is 0; a non-zero exit is in details.causes (reason ExitCode); any
 * other failure (the container is gone, the command is missing) is 1.
 */
export function exitCodeOf(status: V1Status): { code: number; problem?: string } {
  if (status.status === 'Success') return { code: ExitCode.ok };
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const code = cause?.message !== undefined ? Number(cause.message) : NaN;
  if (status.reason === 'NonZeroExitCode' && Number.isInteger(code) && code > 0) return { code };
  return { code: ExitCode.failure, problem: status.message ?? 'the command failed in the pod' };
}

/** The leader's pod (read by name, whatever its labels), else a ready pod the selector finds. */
export async function findManagerPod(
  config: Pick<KubectlRotateKeysConfig, 'courierNamespace' | 'leaderElectionId' | 'managerSelector'>,
  kubeConfig: Parameters<typeof readLeader>[0],
): Promise<ChosenPod> {
  const namespace = config.courierNamespace;
  const leader = await readLeader(kubeConfig, namespace, config.leaderElectionId);
  const pods: V1Pod[] = [];
  if (leader && !leader.expired && leader.podName) {
    const pod = await kubeConfig
      .makeApiClient(CoreV1Api)
      .readNamespacedPod({ name: leader.podName, namespace })
      .catch((error: unknown) => {
        if (isApiError(error, 404)) return undefined;
        throw error;
      });
    if (pod) pods.push(pod);
  }
  if (pods.length === 0) pods.push(...(await listManagerPods(kubeConfig, namespace, config.managerSelector)));
  const chosen = chooseManagerPod(leader, pods);
  if (!chosen) {
    throw new CommandFailed(
      `no running manager pod in ${namespace}: no current leader in Lease ${config.leaderElectionId} and no ready pod matches ${config.managerSelector}`,
    );
  }
  return chosen;
}

export async function rotateKeysInManager(config: KubectlRotateKeysConfig, terminal: Terminal): Promise<number> {
  const command = remoteCommand(config);
  const { kubeConfig } = connectToCluster(config);
  const { pod, why } = await findManagerPod(config, kubeConfig);
  const name = pod.metadata!.name!;
  const container = managerContainer(pod, config.container);
  terminal.stderr.write(
    `running "${command.join(' ')}" in pod ${config.courierNamespace}/${name} (${why}), container ${container}\n`,
  );
  const status = await new Promise<V1Status>((resolve, reject) => {
    let settled: V1Status | undefined;
    new Exec(kubeConfig)
      .exec(
        config.courierNamespace,
        name,
        container,
        command,
        terminal.stdout,
        terminal.stderr,
        null,
        false,
        (s) => (settled = s),
      )
      .then((socket) => {
        socket.on('close', () =>
          settled
            ? resolve(settled)
            : reject(new Error('the connection closed before the command reported its exit status')),
        );
      }, reject);
  }).catch((error: unknown) => {
    throw new CommandFailed(
      `cannot run the command in pod ${config.courierNamespace}/${name}: ${describeError(error)}`,
    );
  });
  const { code, problem } = exitCodeOf(status);
  if (problem) throw new CommandFailed(`in pod ${config.courierNamespace}/${name}: ${problem}`);
  return code;
}
