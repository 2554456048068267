import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { registerSecret } from '../log/redact.ts';

/**
 * Builds the client configuration the way controller-runtime does: the given
 * kubeconfig file(s) (--kubeconfig / KUBECONFIG) first, else the pod's service
 * account when running in a cluster, else ~/.kube/config. Unlike client-node's
 * loadFromDefault it never falls back to an unauthenticated localhost:8080.
 *
 * Credentials found in the configuration are registered as secrets so they
 * can never appear in a log line. `context` picks a context other than the
 * current one, as kubectl's --context does.
 */
export function loadKubeConfig(kubeconfigFiles: readonly string[] = [], context?: string): KubeConfig {
  const kubeConfig = loadFromFirstSource(kubeconfigFiles);
  if (context !== undefined) {
    if (!kubeConfig.getContextObject(context)) throw new Error(`kubeconfig has no context "${context}"`);
    kubeConfig.setCurrentContext(context);
  }
  for (const user of kubeConfig.getUsers()) {
    for (const credential of [user.token, user.password, user.keyData]) {
      if (credential) registerSecret(credential);
    }
  }
  if (!kubeConfig.getCurrentCluster()) {
    throw new Error(`kubeconfig has no cluster for its current context "${kubeConfig.getCurrentContext()}"`);
  }
  return kubeConfig;
}

function loadFromFirstSource(kubeconfigFiles: readonly string[]): KubeConfig {
  const kubeConfig = new KubeConfig();
  const [first, ...others] = kubeconfigFiles;
  if (first !== undefined) {
    kubeConfig.loadFromFile(first);
    for (const file of others) {
      const other = new KubeConfig();
      other.loadFromFile(file);
      // As with kubectl, the first file that names a current context wins.
      kubeConfig.mergeConfig(other, Boolean(kubeConfig.getCurrentContext()));
    }
    return kubeConfig;
  }
  if (process.env.KUBERNETES_SERVICE_HOST && process.env.KUBERNETES_SERVICE_PORT) {
    kubeConfig.loadFromCluster();
    return kubeConfig;
  }
  const userKubeconfig = join(homedir(), '.kube', 'config');
  if (existsSync(userKubeconfig)) {
    kubeConfig.loadFromFile(userKubeconfig);
    return kubeConfig;
  }
  throw new Error('no Kubernetes API server configured: set --kubeconfig (KUBECONFIG) or run inside a cluster');
}
