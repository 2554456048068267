import type { Command } from 'commander';
import { formatBindAddress } from '../../config/bind-address.ts';
import { webhookOptions, type WebhookConfig } from '../../config/commands.ts';
import { readConfig } from '../../config/options.ts';
import { loadKubeConfig } from '../../kube/kubeconfig.ts';
import { ToolConnectionLookup } from '../../controllers/toolconnection/lookup.ts';
import { toolConnectionInformer } from '../../controllers/toolconnection/controller.ts';
import { AdmissionServer, MUTATE_PATH } from '../../webhook/server.ts';
import { runComponent, type ComponentContext } from './component-process.ts';

/** Runs `courier webhook`; its flags are in ./components.ts. */
export function run(command: Command): Promise<number> {
  const config = readConfig(webhookOptions, command);
  return runComponent('webhook', config, (context) => startWebhook(config, context));
}

async function startWebhook(config: WebhookConfig, { logger, lifecycle, probes, registry }: ComponentContext) {
  const kubeConfig = loadKubeConfig(config.kubeconfig);
  const connections = new ToolConnectionLookup(kubeConfig, toolConnectionInformer(kubeConfig, logger));
  // Until the cache is filled every admission would cost a GET; the Service
  // sends requests only to ready replicas, so readiness waits for it.
  let synced = false;
  probes.addReadinessCheck('toolconnection-cache', () => {
    if (!synced) throw new Error('ToolConnection cache not filled yet');
  });
  lifecycle.onShutdown('ToolConnection cache', () => connections.stop());
  void connections.start().then(() => {
    synced = true;
    logger.info('ToolConnection cache filled');
  });

  const server = new AdmissionServer({
    address: config.webhookBindAddress,
    certFile: config.tlsCertFile,
    keyFile: config.tlsKeyFile,
    review: {
      settings: {
        agentImage: config.agentImage,
        agentImagePullPolicy: config.agentImagePullPolicy,
        brokerUrl: config.brokerUrl,
        tokenExpirationSeconds: config.tokenExpiration,
        credentialsSizeLimit: config.credentialsSizeLimit,
      },
      lookup: (namespace, name) => connections.get(namespace, name),
    },
    registry,
    logger,
  });
  const bound = await server.start();
  // Registered last so it runs first: requests in flight finish while the
  // cache they read is still there.
  lifecycle.onShutdown('admission server', () => server.stop());
  logger.info({ webhookAddress: formatBindAddress(bound), path: MUTATE_PATH }, 'serving admission requests');
}
