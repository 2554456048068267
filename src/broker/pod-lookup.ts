// Finds the live pod a token is bound to. Opted-in pods are cached by an
// informer (only they can ever be served, so the cache stays small); a miss or
// a uid that does not match — a pod just created, or recreated under the same
// name — is settled by one GET, since the cache may lag the apiserver.
import { ApiException, CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { INJECT_LABEL } from '../api/v1alpha1/index.ts';
import type { Logger } from '../log/logger.ts';
import { ResilientInformer } from '../controllers/runtime/informer.ts';

export interface PodLookup {
  /** The pod with this name and uid, or undefined if no such pod exists now. */
  find(namespace: string, name: string, uid: string): Promise<V1Pod | undefined>;
}

export class CachedPodLookup implements PodLookup {
  readonly informer: ResilientInformer<V1Pod>;
  private readonly core: CoreV1Api;

  constructor(kubeConfig: KubeConfig, logger: Logger) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    const labelSelector = `${INJECT_LABEL}=true`;
    this.informer = new ResilientInformer<V1Pod>(
      kubeConfig,
      {
        path: '/api/v1/pods',
        labelSelector,
        list: () => this.core.listPodForAllNamespaces({ labelSelector }),
        staleAfterMs: 10 * 60_000,
      },
      logger,
    );
  }

  async find(namespace: string, name: string, uid: string): Promise<V1Pod | undefined> {
    const cached = this.informer.get(name, namespace);
    if (cached?.metadata?.uid === uid) return cached;
    try {
      const pod = await this.core.readNamespacedPod({ namespace, name });
      return pod.metadata?.uid === uid ? pod : undefined;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }
}
