// What the webhook's unit tests share: settings, the ToolConnections of the
// test namespace, and an RFC 6902 "add" applier that does to a pod what the
// apiserver does with the webhook's patch.
import type { V1Pod } from '@kubernetes/client-node';
import type { ToolConnection, ToolConnectionSpec } from '../../api/v1alpha1/index.ts';
import type { JsonPatchAddOp } from '../mutate.ts';
import type { WebhookSettings } from '../settings.ts';

export const NAMESPACE = 'scans';

export const SETTINGS: WebhookSettings = {
  agentImage: 'ghcr.io/courier/courier:0.1.0',
  agentImagePullPolicy: 'IfNotPresent',
  brokerUrl: 'https://courier-broker.courier-system.svc:8443',
  tokenExpirationSeconds: 600,
  credentialsSizeLimit: '1Mi',
};

export function toolConnection(name: string, spec: ToolConnectionSpec, ready = true): ToolConnection {
  return {
    apiVersion: 'courier.dev/v1alpha1',
    kind: 'ToolConnection',
    metadata: { name, namespace: NAMESPACE },
    spec,
    status: {
      conditions: [
        {
          type: 'Ready',
          status: ready ? 'True' : 'False',
          reason: ready ? 'Ready' : 'NotStored',
          message: '',
          lastTransitionTime: new Date('2030-01-01T00:00:00Z'),
        },
      ],
    },
  };
}

const ROLE = 'arn:aws:iam::123456789012:role/ScanRole';

/** The test namespace's ToolConnections, by name. */
export const CONNECTIONS: ReadonlyMap<string, ToolConnection> = new Map(
  [
    // Session credentials for the default hour.
    toolConnection('aws-prod', { provider: 'aws', aws: { authMethod: 'assumeRole', roleArn: ROLE } }),
    // Session credentials for twelve hours.
    toolConnection('aws-long', {
      provider: 'aws',
      aws: { authMethod: 'assumeRole', roleArn: ROLE, sessionDurationSeconds: 43_200 },
    }),
    // The stored key itself: never expires.
    toolConnection('aws-static', { provider: 'aws', aws: { authMethod: 'accessKey', allowLongLivedKey: true } }),
    toolConnection('github', { provider: 'generic', generic: { purpose: 'http', host: 'github.com' } }),
    toolConnection('db', { provider: 'generic', generic: { purpose: 'database' } }, false),
  ].map((connection) => [connection.metadata.name!, connection]),
);

/** Applies `add` operations as RFC 6902 says: into objects by key, into arrays by index or at "-". */
export function applyPatch(document: V1Pod, patch: readonly JsonPatchAddOp[]): V1Pod {
  const result: unknown = structuredClone(document);
  for (const { op, path, value } of patch) {
    if (op !== 'add') throw new Error(`unexpected operation ${JSON.stringify(op)}`);
    const tokens = path
      .split('/')
      .slice(1)
      .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = tokens.pop();
    if (last === undefined) throw new Error('the whole document cannot be replaced');
    let parent = result;
    for (const token of tokens) {
      const next = (parent as Record<string, unknown>)[token];
      if (typeof next !== 'object' || next === null) throw new Error(`${path}: no container at "${token}"`);
      parent = next;
    }
    const copy = structuredClone(value);
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`${path}: bad index`);
      parent.splice(index, 0, copy);
    } else {
      (parent as Record<string, unknown>)[last] = copy;
    }
  }
  return result as V1Pod;
}
