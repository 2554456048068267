// ToolConnections as the webhook and the broker read them: from an
// informer's cache, so a request costs no API call, and with one GET on a
// miss, because a ToolConnection created a moment before its pod may not have
// reached the cache yet (kubectl apply -f of a file holding both).
import { ApiException, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, TOOL_CONNECTIONS, VERSION, type ToolConnection } from '../../api/v1alpha1/index.ts';
import { abortable } from '../../kube/abortable.ts';
import { withTimeout } from '../../runtime/with-timeout.ts';
import type { ResilientInformer } from '../runtime/informer.ts';

const RESOURCE = { group: GROUP, version: VERSION, plural: TOOL_CONNECTIONS.plural };
/** Well inside the apiserver's webhook timeout (10 s by default), so a slow GET still gets an answer out. */
const GET_TIMEOUT_MS = 3_000;

export class ToolConnectionLookup {
  readonly #api: CustomObjectsApi;
  readonly #informer: ResilientInformer<ToolConnection>;

  /** `informer` may be shared (see toolConnectionInformer); start and stop it through this lookup or its other users. */
  constructor(kubeConfig: KubeConfig, informer: ResilientInformer<ToolConnection>) {
    this.#api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.#informer = informer;
  }

  /** Resolves once the cache holds a first full list. */
  start(): Promise<void> {
    return this.#informer.start();
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }

  /** The ToolConnection, or undefined when it does not exist; rejects when the apiserver cannot tell. */
  async get(namespace: string, name: string): Promise<ToolConnection | undefined> {
    const cached = this.#informer.get(name, namespace);
    if (cached) return cached;
    try {
      return await withTimeout(`reading ToolConnection ${namespace}/${name}`, GET_TIMEOUT_MS, (signal) =>
        this.#api.getNamespacedCustomObject({ ...RESOURCE, namespace, name }, abortable(signal)),
      );
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw err;
    }
  }
}
