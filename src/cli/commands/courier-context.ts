// What the manager and `courier rotate-keys` both build from the
// configuration file: the stores and the key hierarchy under the chosen KEK.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { CourierConfig } from '../../config/file.ts';
import { createKeyHierarchy, type KeyHierarchy } from '../../crypto/key-hierarchy.ts';
import { kekFromConfig } from '../../crypto/kek/registry.ts';
import { StoreRegistry } from '../../stores/registry.ts';
import { StoreMetrics } from '../../stores/resilient.ts';

export interface CourierContext {
  stores: StoreRegistry;
  keys: KeyHierarchy;
}

/** `metrics`: where store calls are counted and timed (the manager's /metrics). */
export function createCourierContext(
  config: CourierConfig,
  kubeConfig: KubeConfig,
  namespace: string,
  metrics?: Registry,
): CourierContext {
  const kek = kekFromConfig(config.kek);
  return {
    stores: new StoreRegistry(
      config.stores,
      config.defaultStore,
      { kubeConfig, namespace },
      metrics ? { metrics: new StoreMetrics(metrics) } : {},
    ),
    keys: createKeyHierarchy(kubeConfig, { namespace, ...(kek ? { kek } : {}) }),
  };
}
