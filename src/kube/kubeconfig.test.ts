import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createCertificateAuthority, issueCertificate } from '../crypto/pki.ts';
import { REDACTED, redactString } from '../log/redact.ts';
import { loadKubeConfig } from './kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'courier-kube-'));

function kubeconfigFile(name: string, config: Record<string, unknown>): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ apiVersion: 'v1', kind: 'Config', ...config }));
  return path;
}

/** One cluster reached with a bearer token. */
function singleClusterConfig(server: string, token: string, context = 'test') {
  return {
    clusters: [{ name: `${context}-cluster`, cluster: { server } }],
    users: [{ name: `${context}-user`, user: { token } }],
    contexts: [{ name: context, context: { cluster: `${context}-cluster`, user: `${context}-user` } }],
    'current-context': context,
  };
}

describe('loadKubeConfig', () => {
  it('loads the given file and registers its credentials as secrets', () => {
    const file = kubeconfigFile('one', singleClusterConfig('https://one.example:6443', 'token-from-kubeconfig'));
    const kubeConfig = loadKubeConfig([file]);
    expect(kubeConfig.getCurrentCluster()?.server).toBe('https://one.example:6443');
    expect(redactString('Bearer token-from-kubeconfig')).toBe(`Bearer ${REDACTED}`);
  });

  it('merges several files, the first current context winning', () => {
    const first = kubeconfigFile('first', singleClusterConfig('https://first.example', 'first-token-value', 'first'));
    const second = kubeconfigFile(
      'second',
      singleClusterConfig('https://second.example', 'second-token-value', 'second'),
    );
    const kubeConfig = loadKubeConfig([first, second]);
    expect(kubeConfig.getCurrentContext()).toBe('first');
    expect(kubeConfig.getContexts().map((context) => context.name)).toEqual(['first', 'second']);
  });

  it('refuses a kubeconfig whose current context has no cluster', () => {
    const file = kubeconfigFile('empty', { clusters: [], users: [], contexts: [], 'current-context': 'gone' });
    expect(() => loadKubeConfig([file])).toThrow('kubeconfig has no cluster for its current context "gone"');
  });
});

describe('PooledKubeConfig', () => {
  it('sends the API calls of a context over kept-alive connections', async () => {
    const ca = await createCertificateAuthority('test-ca', 1);
    const serving = await issueCertificate(ca, {
      commonName: 'apiserver',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
      validityDays: 1,
    });
    let connections = 0;
    const server = createServer({ cert: serving.certPem, key: serving.keyPem }, (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'NamespaceList', metadata: {}, items: [] }));
    });
    server.on('secureConnection', () => connections++);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const config = {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'local',
            cluster: {
              server: `https://127.0.0.1:${port}`,
              'certificate-authority-data': Buffer.from(ca.certPem).toString('base64'),
            },
          },
        ],
        users: [{ name: 'me', user: { token: 'pool-test-token' } }],
        contexts: [{ name: 'local', context: { cluster: 'local', user: 'me' } }],
        'current-context': 'local',
      };
      const listTenTimes = async (kubeConfig: KubeConfig) => {
        const core = kubeConfig.makeApiClient(CoreV1Api);
        for (let i = 0; i < 10; i++) await core.listNamespace();
      };
      await listTenTimes(loadKubeConfig([kubeconfigFile('pooled', config)]));
      // Sequential calls, yet a second connection may open while the first is still being released.
      expect(connections).toBeLessThanOrEqual(2);

      // What the pool saves: client-node's own KubeConfig connects anew for each call.
      connections = 0;
      const plain = new KubeConfig();
      plain.loadFromFile(kubeconfigFile('plain', config));
      await listTenTimes(plain);
      expect(connections).toBe(10);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
