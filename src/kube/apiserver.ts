import { VersionApi, type KubeConfig, type VersionInfo } from '@kubernetes/client-node';
import { abortable } from './abortable.ts';

/** Asks the API server for its version: the cheapest call that proves it answers and accepts our credentials. */
export class ApiServerVersionProbe {
  readonly #api: VersionApi;

  constructor(kubeConfig: KubeConfig) {
    this.#api = kubeConfig.makeApiClient(VersionApi);
  }

  /** Resolves with the server's version; `signal` cancels the request. */
  fetchVersion(signal: AbortSignal): Promise<VersionInfo> {
    return this.#api.getCode({}, abortable(signal));
  }
}
