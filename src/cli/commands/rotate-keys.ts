// `courier rotate-keys`: rotates the key-encryption key and/or tenants' data
// keys, re-wrapping and re-sealing what they protect. It needs what the
// manager has (its service account, its configuration), so it runs in the
// manager pod: kubectl exec deploy/courier-manager -- courier rotate-keys ...
// Every step is idempotent: if it stops half-way, the same command finishes.
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { GROUP, TOOL_CONNECTIONS, VERSION, type ToolConnection } from '../../api/v1alpha1/index.ts';
import { rotateKeysOptions, type RotateKeysConfig } from '../../config/commands.ts';
import { ConfigError } from '../../config/errors.ts';
import { loadCourierConfig } from '../../config/file.ts';
import { readConfig } from '../../config/options.ts';
import { rotateKek, rotateTenantKey, type RotationProgress } from '../../crypto/rotation.ts';
import { loadKubeConfig } from '../../kube/kubeconfig.ts';
import { redactString } from '../../log/redact.ts';
import { ExitCode } from '../../runtime/exit-codes.ts';
import { createCourierContext } from './courier-context.ts';

/** Runs `courier rotate-keys`; its flags are in ./components.ts. */
export async function run(command: Command): Promise<number> {
  const config = readConfig(rotateKeysOptions, command);
  if (!config.kek && !config.tenants && !config.allTenants) {
    throw new ConfigError(['say what to rotate: --kek, --tenants <namespaces> or --all-tenants']);
  }
  try {
    await rotate(config);
    return ExitCode.ok;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`courier rotate-keys: stopped: ${redactString(message)}\n`);
    process.stderr.write('courier rotate-keys: nothing is lost; run the same command again to finish\n');
    return ExitCode.failure;
  }
}

async function rotate(config: RotateKeysConfig): Promise<void> {
  const courierConfig = await loadCourierConfig(config.config);
  const kubeConfig = loadKubeConfig(config.kubeconfig);
  const { keys, stores } = createCourierContext(courierConfig, kubeConfig, config.namespace);
  const progress: RotationProgress = ({ step, done, total }) => process.stderr.write(`  ${step}: ${done}/${total}\n`);

  if (config.kek) {
    const result = await rotateKek(keys, progress);
    const what = result.rotated ? `rotated to ${result.kekId}` : `finished an interrupted rotation to ${result.kekId}`;
    process.stdout.write(`key-encryption key: ${what}; ${result.rewrappedKeys} keys re-wrapped\n`);
  }

  const tenants = config.allTenants ? await keys.tenants() : (config.tenants ?? []);
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  for (const tenant of tenants) {
    const credentials = async () => {
      const list = (await api.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: tenant,
        plural: TOOL_CONNECTIONS.plural,
      })) as { items: ToolConnection[] };
      return list.items
        .filter((tc) => tc.status?.storeVersion)
        .map((tc) => ({ ref: { tenant, name: tc.metadata.name! }, store: stores.get(tc.status?.store) }));
    };
    const result = await rotateTenantKey({ ...keys, credentials }, tenant, progress);
    const what = result.rotated ? `new data key ${result.keyId}` : `finished moving to data key ${result.keyId}`;
    process.stdout.write(`tenant ${tenant}: ${what}; ${result.resealed} credentials re-sealed\n`);
  }
}
