// The configured stores by name. Each store type maps to a factory here; a
// new store is one file plus one line in STORE_FACTORIES.
import type { KubeConfig } from '@kubernetes/client-node';
import type { StoreConfig } from '../config/file.ts';
import { AwsSecretsManagerStore } from './aws-secrets-manager.ts';
import { GcpSecretManagerStore } from './gcp-secret-manager.ts';
import { KubernetesStore } from './kubernetes.ts';
import { withResilience, type ResilienceOptions } from './resilient.ts';
import type { SecretStore } from './store.ts';
import { VaultStore } from './vault.ts';

export interface StoreContext {
  kubeConfig: KubeConfig;
  /** Courier's own namespace. */
  namespace: string;
}

type Factory<T extends StoreConfig['type']> = (
  config: Extract<StoreConfig, { type: T }>,
  context: StoreContext,
) => SecretStore;

const STORE_FACTORIES: { [T in StoreConfig['type']]: Factory<T> } = {
  kubernetes: (c, ctx) =>
    new KubernetesStore(c.name, ctx.kubeConfig, {
      namespace: c.kubernetes.namespace ?? ctx.namespace,
      maxVersions: c.kubernetes.maxVersions,
    }),
  'aws-secrets-manager': (c) => new AwsSecretsManagerStore(c.name, c.awsSecretsManager),
  'gcp-secret-manager': (c) => new GcpSecretManagerStore(c.name, c.gcpSecretManager),
  vault: (c) => new VaultStore(c.name, c.vault),
};

export class UnknownStoreError extends Error {
  constructor(name: string, known: string[]) {
    super(`store "${name}" is not configured; configured stores: ${known.join(', ')}`);
    this.name = 'UnknownStoreError';
  }
}

export class StoreRegistry {
  readonly defaultStore: string;
  private readonly stores = new Map<string, SecretStore>();

  constructor(
    configs: StoreConfig[],
    defaultStore: string,
    context: StoreContext,
    resilience: Partial<ResilienceOptions> = {},
  ) {
    for (const config of configs) {
      const create = STORE_FACTORIES[config.type] as Factory<typeof config.type>;
      this.stores.set(config.name, withResilience(create(config as never, context), resilience));
    }
    if (!this.stores.has(defaultStore)) throw new UnknownStoreError(defaultStore, this.names());
    this.defaultStore = defaultStore;
  }

  /** The named store, or the default one when no name is given. */
  get(name?: string): SecretStore {
    const store = this.stores.get(name || this.defaultStore);
    if (!store) throw new UnknownStoreError(name!, this.names());
    return store;
  }

  names(): string[] {
    return [...this.stores.keys()];
  }
}
