// `doctor`: one line per finding, OK, WARN or FAIL; exit 1 if anything FAILs.
// The checks run one after another so their lines come in a stable order.
import type { DoctorConfig } from '../../config/people-commands.ts';
import { ExitCode } from '../../runtime/exit-codes.ts';
import { connectToCluster } from './cluster.ts';
import {
  checkApiServer,
  checkConnections,
  checkCrds,
  checkLeader,
  checkManagerReadiness,
  checkServingCertificates,
  checkUploadKeys,
  checkWebhookConfiguration,
  probeWebhook,
  type CheckResult,
  type DoctorContext,
} from './doctor-checks.ts';
import { stringify } from 'yaml';
import type { Terminal } from './prompt.ts';

export async function runDoctor(config: DoctorConfig, terminal: Terminal): Promise<number> {
  const { kubeConfig, namespace } = connectToCluster(config);
  const context: DoctorContext = {
    kubeConfig,
    namespace,
    allNamespaces: config.allNamespaces,
    courierNamespace: config.courierNamespace,
    webhookConfigurationName: config.webhookConfigurationName,
    leaderElectionId: config.leaderElectionId,
    managerSelector: config.managerSelector,
    now: new Date(),
  };
  const apiServer = await checkApiServer(context);
  const results: CheckResult[] =
    apiServer.status === 'FAIL'
      ? [apiServer]
      : [
          apiServer,
          ...(await checkCrds(context)),
          ...(await checkWebhookConfiguration(context)),
          await probeWebhook(context),
          ...(await checkServingCertificates(context)),
          await checkLeader(context),
          ...(await checkManagerReadiness(context)),
          await checkUploadKeys(context),
          await checkConnections(context),
        ];
  if (config.output === 'json') terminal.stdout.write(`${JSON.stringify({ checks: results }, null, 4)}\n`);
  else if (config.output === 'yaml') terminal.stdout.write(stringify({ checks: results }));
  else terminal.stdout.write(formatResults(results));
  return results.some((r) => r.status === 'FAIL') ? ExitCode.failure : ExitCode.ok;
}

/** "OK    crds           toolconnections.courier.dev: established, v1alpha1 served" */
export function formatResults(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.check.length));
  return results.map((r) => `${r.status.padEnd(4)}  ${r.check.padEnd(width)}  ${r.message}\n`).join('');
}
