import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
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
