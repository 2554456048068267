import { describe, expect, it } from '@jest/globals';
import type { ToolConnection } from '../../api/v1alpha1/index.ts';
import { ConfigError } from '../../config/errors.ts';
import type { ConnectAwsConfig, ConnectGenericConfig } from '../../config/people-commands.ts';
import { newConnection, planAws, planGeneric } from './connection-spec.ts';

const aws = (flags: Partial<ConnectAwsConfig>): ConnectAwsConfig =>
  ({
    courierNamespace: 'courier-system',
    serviceAccount: [],
    sessionTag: [],
    fromStdin: false,
    wait: false,
    timeout: 120_000,
    allowLongLivedKey: false,
    ...flags,
  }) as ConnectAwsConfig;

const generic = (flags: Partial<ConnectGenericConfig>): ConnectGenericConfig =>
  ({
    courierNamespace: 'courier-system',
    serviceAccount: [],
    set: [],
    fromFile: [],
    prompt: [],
    fromStdin: false,
    wait: false,
    timeout: 120_000,
    ...flags,
  }) as ConnectGenericConfig;

const existing = (spec: ToolConnection['spec']): ToolConnection => ({
  apiVersion: 'courier.dev/v1alpha1',
  kind: 'ToolConnection',
  metadata: { name: 'x', namespace: 'team' },
  spec,
});

function usage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('planAws', () => {
  it('assumes a role when --role-arn is given, storing nothing', () => {
    const plan = planAws(
      aws({
        roleArn: 'arn:aws:iam::123456789012:role/Scan',
        externalId: 'ext-1',
        region: 'eu-west-1',
        sessionDuration: 7_200_000,
        sessionTag: [['team', 'security']],
        serviceAccount: ['scanner'],
      }),
      undefined,
      '{"Version":"2012-10-17"}',
    );
    expect(plan).toEqual({
      provider: 'aws',
      uploadsCredential: false,
      spec: {
        aws: {
          authMethod: 'assumeRole',
          roleArn: 'arn:aws:iam::123456789012:role/Scan',
          externalId: 'ext-1',
          sessionPolicy: '{"Version":"2012-10-17"}',
          region: 'eu-west-1',
          sessionDurationSeconds: 7200,
          sessionTags: { team: 'security' },
        },
        access: { serviceAccounts: ['scanner'] },
      },
    });
  });

  it('stores an access key by default, with its rotation advice', () => {
    const plan = planAws(aws({ maxKeyAge: '30d', allowLongLivedKey: true, store: 'vault' }), undefined);
    expect(plan).toEqual({
      provider: 'aws',
      uploadsCredential: true,
      spec: {
        aws: { authMethod: 'accessKey', allowLongLivedKey: true },
        rotation: { maxKeyAge: '30d' },
        store: 'vault',
      },
    });
  });

  it('keeps the current method and changes only what the flags name', () => {
    const current = existing({
      provider: 'aws',
      aws: { authMethod: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/A' },
    });
    expect(planAws(aws({ region: 'us-west-2' }), current)).toEqual({
      provider: 'aws',
      uploadsCredential: false,
      spec: { aws: { authMethod: 'assumeRole', region: 'us-west-2' } },
    });
  });

  it('clears the other method’s fields when switching', () => {
    const role = existing({
      provider: 'aws',
      aws: { authMethod: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/A' },
    });
    expect(planAws(aws({ authMethod: 'accessKey' }), role).spec).toEqual({
      aws: { authMethod: 'accessKey', roleArn: null, externalId: null, sessionPolicy: null },
    });
    const key = existing({ provider: 'aws', aws: { authMethod: 'accessKey', allowLongLivedKey: true } });
    expect(planAws(aws({ roleArn: 'arn:aws:iam::123456789012:role/B' }), key).spec).toEqual({
      aws: { authMethod: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/B', allowLongLivedKey: null },
      credentialsSecretRef: null,
    });
  });

  it.each([
    [
      aws({ authMethod: 'accessKey', roleArn: 'arn:aws:iam::123456789012:role/A' }),
      '--role-arn: only for --auth-method assumeRole',
    ],
    [aws({ roleArn: 'arn:aws:iam::123456789012:role/A', allowLongLivedKey: true }), 'only for --auth-method accessKey'],
    [aws({ authMethod: 'assumeRole' }), '--role-arn is needed'],
    [aws({ sessionDuration: 1500 }), 'whole seconds'],
  ])('refuses flags that contradict the method (%#)', (config, message) => {
    expect(usage(() => planAws(config, undefined))).toContain(message);
  });
});

describe('planGeneric', () => {
  it('needs a purpose to create, not to update', () => {
    expect(usage(() => planGeneric(generic({}), undefined))).toContain('--purpose is needed');
    const current = existing({ provider: 'generic', generic: { purpose: 'ssh' } });
    expect(planGeneric(generic({}), current)).toEqual({ provider: 'generic', spec: {}, uploadsCredential: true });
  });

  it('sets host, port and required fields', () => {
    const plan = planGeneric(
      generic({ purpose: 'ssh', host: 'bastion', port: 22, requiredFields: ['username'] }),
      undefined,
    );
    expect(plan.spec).toEqual({ generic: { purpose: 'ssh', host: 'bastion', port: 22, requiredFields: ['username'] } });
  });
});

describe('newConnection', () => {
  it('is the whole object, without the nulls a patch would carry', () => {
    const plan = {
      provider: 'aws' as const,
      uploadsCredential: true,
      spec: { aws: { authMethod: 'accessKey', roleArn: null } },
    };
    expect(newConnection('prod', 'team', plan, { 'courier.dev/uploaded-at': 't' })).toEqual({
      apiVersion: 'courier.dev/v1alpha1',
      kind: 'ToolConnection',
      metadata: { name: 'prod', namespace: 'team', annotations: { 'courier.dev/uploaded-at': 't' } },
      spec: { provider: 'aws', aws: { authMethod: 'accessKey' } },
    });
  });
});
