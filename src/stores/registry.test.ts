import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { parseCourierConfig } from '../config/file.ts';
import { StoreRegistry } from './registry.ts';

const kubeConfig = new KubeConfig();
kubeConfig.loadFromClusterAndUser({ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: false }, { name: 'u' });

describe('StoreRegistry', () => {
  const config = parseCourierConfig(
    `
stores:
  - { name: in-cluster, type: kubernetes }
  - { name: aws, type: aws-secrets-manager, awsSecretsManager: { region: us-east-1 } }
  - { name: vault, type: vault, vault: { address: "http://127.0.0.1:8200", auth: { method: token, tokenFile: /t } } }
defaultStore: in-cluster
`,
    'test',
  );
  const registry = new StoreRegistry(config.stores, config.defaultStore, { kubeConfig, namespace: 'courier-system' });

  it('builds each configured store by type and name', () => {
    expect(registry.names()).toEqual(['in-cluster', 'aws', 'vault']);
    expect(registry.get('aws')).toMatchObject({ name: 'aws', type: 'aws-secrets-manager' });
    expect(registry.get('vault')).toMatchObject({ name: 'vault', type: 'vault' });
  });

  it('answers the default store when a ToolConnection names none', () => {
    expect(registry.get(undefined)).toMatchObject({ name: 'in-cluster', type: 'kubernetes' });
    expect(registry.get('')).toMatchObject({ name: 'in-cluster' });
  });

  it('says which stores exist when asked for another', () => {
    expect(() => registry.get('gcp')).toThrow(
      'store "gcp" is not configured; configured stores: in-cluster, aws, vault',
    );
  });
});
