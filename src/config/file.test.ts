import { describe, expect, it } from '@jest/globals';
import { ConfigFileError, EMBEDDED_CONFIG, loadCourierConfig, parseCourierConfig } from './file.ts';

const problemsOf = (text: string): readonly string[] => {
  try {
    parseCourierConfig(text, 'config.yaml');
  } catch (error) {
    if (error instanceof ConfigFileError) return error.fieldProblems;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
};

describe('configuration file', () => {
  it('uses the embedded defaults when no file is given', async () => {
    expect(await loadCourierConfig(undefined)).toEqual(EMBEDDED_CONFIG);
    expect(EMBEDDED_CONFIG.stores).toEqual([
      { name: 'kubernetes', type: 'kubernetes', kubernetes: { maxVersions: 10 } },
    ]);
  });

  it('reads every store type, filling in defaults', () => {
    const config = parseCourierConfig(
      `
stores:
  - name: in-cluster
    type: kubernetes
  - name: aws
    type: aws-secrets-manager
    awsSecretsManager: { region: eu-west-1 }
  - name: gcp
    type: gcp-secret-manager
    gcpSecretManager: { project: my-project-1 }
  - name: vault
    type: vault
    vault:
      address: https://vault.example:8200
      auth: { method: kubernetes, role: courier }
defaultStore: aws
kek:
  provider: aws-kms
  awsKms: { keyId: alias/courier, region: eu-west-1 }
`,
      'config.yaml',
    );
    expect(config.defaultStore).toBe('aws');
    expect(config.stores.map((s) => s.type)).toEqual([
      'kubernetes',
      'aws-secrets-manager',
      'gcp-secret-manager',
      'vault',
    ]);
    expect(config.stores[1]).toMatchObject({ awsSecretsManager: { prefix: 'courier/', recoveryWindowDays: 0 } });
    expect(config.stores[2]).toMatchObject({ gcpSecretManager: { prefix: 'courier_', insecure: false } });
    expect(config.stores[3]).toMatchObject({
      vault: {
        mount: 'secret',
        auth: { mount: 'kubernetes', tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
      },
    });
  });

  it('reads a gcp-kms KEK', () => {
    const config = parseCourierConfig(
      `
stores: [{ name: a, type: kubernetes }]
defaultStore: a
kek:
  provider: gcp-kms
  gcpKms: { keyName: projects/my-project/locations/europe-west1/keyRings/courier/cryptoKeys/kek }
`,
      'config.yaml',
    );
    expect(config.kek).toEqual({
      provider: 'gcp-kms',
      gcpKms: {
        keyName: 'projects/my-project/locations/europe-west1/keyRings/courier/cryptoKeys/kek',
        insecure: false,
      },
    });
  });

  it.each([
    [
      'a default store that is not enabled',
      'stores: [{name: a, type: kubernetes}]\ndefaultStore: b',
      'defaultStore: "b" is not one of the enabled stores (a)',
    ],
    [
      'two stores with one name',
      'stores: [{name: a, type: kubernetes}, {name: a, type: kubernetes}]\ndefaultStore: a',
      'stores.1.name: duplicate store name "a"',
    ],
    ['no stores', 'stores: []\ndefaultStore: a', 'stores: enable at least one store'],
    ['an unknown store type', 'stores: [{name: a, type: s3}]\ndefaultStore: a', 'stores.0.type:'],
    [
      'a missing region',
      'stores: [{name: a, type: aws-secrets-manager, awsSecretsManager: {}}]\ndefaultStore: a',
      'stores.0.awsSecretsManager.region:',
    ],
    [
      'a bad recovery window',
      'stores: [{name: a, type: aws-secrets-manager, awsSecretsManager: {region: us-east-1, recoveryWindowDays: 3}}]\ndefaultStore: a',
      'stores.0.awsSecretsManager.recoveryWindowDays: must be 0 (delete at once) or 7 to 30',
    ],
    [
      'a misspelt field',
      'stores: [{name: a, type: kubernetes, kubernets: {}}]\ndefaultStore: a',
      'stores.0: Unrecognized key: "kubernets"',
    ],
    [
      'a store name with capitals',
      'stores: [{name: InCluster, type: kubernetes}]\ndefaultStore: InCluster',
      'stores.0.name: must be a lower-case DNS label',
    ],
    [
      'vault without auth',
      'stores: [{name: v, type: vault, vault: {address: "https://v:8200"}}]\ndefaultStore: v',
      'stores.0.vault.auth:',
    ],
    [
      'a gcp-kms key version instead of a key',
      'stores: [{name: a, type: kubernetes}]\ndefaultStore: a\nkek: {provider: gcp-kms, gcpKms: {keyName: projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1}}',
      'kek.gcpKms.keyName: must be a Cloud KMS key name',
    ],
    [
      'an unknown KEK provider',
      'stores: [{name: a, type: kubernetes}]\ndefaultStore: a\nkek: {provider: hsm}',
      'kek.provider:',
    ],
    ['broken YAML', 'stores: [', 'not valid YAML'],
  ])('rejects %s, naming the field', (_case, text, expected) => {
    expect(problemsOf(text).join('\n')).toContain(expected);
  });

  it('names the file when it cannot be read', async () => {
    await expect(loadCourierConfig('/nonexistent/courier.yaml')).rejects.toThrow(
      'configuration file /nonexistent/courier.yaml is invalid:\n  - cannot be read: ENOENT',
    );
  });
});
