// The webhook's view of ToolConnections: an informer's cache over every
// namespace, so admission costs no API call, and one GET on a miss, because a
// ToolConnection created a moment before its pod may not have reached the
// cache yet (kubectl apply -f of a file holding both).
import {
  ApiException,
  CustomObjectsApi,
  Observable,
  type KubeConfig,
  type KubernetesListObject,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import { GROUP, TOOL_CONNECTIONS, VERSION, type ToolConnection } from '../api/v1alpha1/index.ts';
import { ResilientInformer } from '../controllers/runtime/informer.ts';
import type { Logger } from '../log/logger.ts';
import { withTimeout } from '../runtime/with-timeout.ts';

const RESOURCE = { group: GROUP, version: VERSION, plural: TOOL_CONNECTIONS.plural };
/** Well inside the apiserver's webhook timeout (10 s by default), so a slow GET still gets an answer out. */
const GET_TIMEOUT_MS = 3_000;

export class ToolConnectionLookup {
  readonly #api: CustomObjectsApi;
  readonly #informer: ResilientInformer<ToolConnection>;

  constructor(kubeConfig: KubeConfig, logger: Logger) {
    this.#api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.#informer = new ResilientInformer<ToolConnection>(
      kubeConfig,
      {
        path: `/apis/${GROUP}/${VERSION}/${TOOL_CONNECTIONS.plural}`,
        list: () => this.#api.listClusterCustomObject(RESOURCE) as Promise<KubernetesListObject<ToolConnection>>,
        staleAfterMs: 10 * 60_000,
      },
      logger,
    );
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

/** Request options that cancel the request when `signal` aborts, keeping client-node's own middleware. */
function abortable(signal: AbortSignal) {
  return {
    middleware: [
      {
        pre: (request: RequestContext) => {
          request.setSignal(signal);
          return new Observable(Promise.resolve(request));
        },
        post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append' as const,
  };
}
