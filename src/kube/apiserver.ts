import {
  Observable,
  VersionApi,
  type KubeConfig,
  type RequestContext,
  type ResponseContext,
  type VersionInfo,
} from '@kubernetes/client-node';

/** Asks the API server for its version: the cheapest call that proves it answers and accepts our credentials. */
export class ApiServerVersionProbe {
  readonly #api: VersionApi;

  constructor(kubeConfig: KubeConfig) {
    this.#api = kubeConfig.makeApiClient(VersionApi);
  }

  /** Resolves with the server's version; `signal` cancels the request. */
  fetchVersion(signal: AbortSignal): Promise<VersionInfo> {
    return this.#api.getCode(
      {},
      {
        middleware: [
          {
            pre: (request: RequestContext) => {
              request.setSignal(signal);
              return new Observable(Promise.resolve(request));
            },
            post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
          },
        ],
        // Keep client-node's own middleware (its User-Agent header).
        middlewareMergeStrategy: 'append',
      },
    );
  }
}
