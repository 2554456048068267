import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';
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

/**
 * A KubeConfig whose API calls share one connection pool per context.
 * client-node 2.0 gives every request a new undici Agent, so each call opened
 * a new TLS connection and built a new TLS context: in a profile of 500
 * ScanSchedules firing at once, that was the manager's largest cost.
 */
export class PooledKubeConfig extends KubeConfig {
  readonly #pools = new Map<string, Dispatcher>();

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (!fresh) return;
    // The TLS settings follow from the context (its cluster and user), so the context names the pool.
    const key = this.getCurrentContext();
    const pool = this.#pools.get(key);
    if (pool) {
      context.setDispatcher(pool);
      void fresh.close();
    } else {
      this.#pools.set(key, fresh);
    }
  }
}

function loadFromFirstSource(kubeconfigFiles: readonly string[]): KubeConfig {
  const kubeConfig = new PooledKubeConfig();
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
