import type { Command } from 'commander';
import { managerOptions, type ManagerConfig } from '../../config/commands.ts';
import { readConfig } from '../../config/options.ts';
import { ApiServerVersionProbe } from '../../kube/apiserver.ts';
import { loadKubeConfig } from '../../kube/kubeconfig.ts';
import { withTimeout } from '../../runtime/with-timeout.ts';
import type { CommandDefinition } from '../program.ts';
import { runComponent, type ComponentContext } from './component-process.ts';

const STARTUP_VERSION_TIMEOUT_MS = 10_000;

export const managerCommand: CommandDefinition = {
  name: 'manager',
  description: 'run the operator that reconciles Courier resources',
  helpGroup: 'Cluster components:',
  options: managerOptions,
  run: (command: Command) => {
    const config = readConfig(managerOptions, command);
    return runComponent('manager', config, (context) => startManager(config, context));
  },
};

async function startManager(config: ManagerConfig, { logger, probes }: ComponentContext): Promise<void> {
  const kubeConfig = loadKubeConfig(config.kubeconfig);
  const server = kubeConfig.getCurrentCluster()?.server;
  const apiServer = new ApiServerVersionProbe(kubeConfig);
  probes.addReadinessCheck('apiserver', async (signal) => {
    await apiServer.fetchVersion(signal);
  });

  // Not fatal: the API server may come up after us, and readiness says so
  // until it does.
  try {
    const version = await withTimeout('API server version request', STARTUP_VERSION_TIMEOUT_MS, (signal) =>
      apiServer.fetchVersion(signal),
    );
    logger.info(
      { server, version: version.gitVersion, platform: version.platform },
      'connected to the Kubernetes API server',
    );
  } catch (err) {
    logger.warn({ server, err }, 'Kubernetes API server not reachable yet');
  }

  if (config.leaderElect) {
    logger.warn(
      { leaderElectionId: config.leaderElectionId },
      'leader election is not implemented yet: --leader-elect has no effect until the controllers arrive',
    );
  }
}
