// A JSON document kept in one Kubernetes Secret, updated with optimistic
// concurrency: every change is read-modify-write on the resourceVersion, and
// a concurrent writer makes the update start over from a fresh read.
import { ApiException, type CoreV1Api, type V1Secret } from '@kubernetes/client-node';

const DOCUMENT_KEY = 'document.json';
const MAX_ATTEMPTS = 5;

export interface SecretDocumentOptions {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  type?: string;
}

export class SecretDocument<T> {
  private readonly api: CoreV1Api;
  private readonly options: SecretDocumentOptions;

  constructor(api: CoreV1Api, options: SecretDocumentOptions) {
    this.api = api;
    this.options = options;
  }

  get name(): string {
    return this.options.name;
  }

  async read(): Promise<T | undefined> {
    return (await this.readWithVersion())?.value;
  }

  /**
   * Applies `change` to the current document (undefined if none) and writes
   * the result. Returning undefined leaves the document as it is. Returns
   * the document as stored afterwards.
   */
  async update(change: (current: T | undefined) => T | undefined | Promise<T | undefined>): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.readWithVersion();
      const next = await change(current?.value);
      if (next === undefined) return current?.value;
      try {
        await this.write(next, current?.resourceVersion);
        return next;
      } catch (error) {
        const lostRace =
          error instanceof ApiException && (error.code === 409 || (error.code === 404 && current !== undefined));
        if (!lostRace || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  private async readWithVersion(): Promise<{ value: T; resourceVersion: string } | undefined> {
    let secret: V1Secret;
    try {
      secret = await this.api.readNamespacedSecret({ name: this.options.name, namespace: this.options.namespace });
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
    const raw = secret.data?.[DOCUMENT_KEY];
    if (raw === undefined)
      throw new Error(`Secret ${this.options.namespace}/${this.options.name} has no ${DOCUMENT_KEY}`);
    return {
      value: JSON.parse(Buffer.from(raw, 'base64').toString()) as T,
      resourceVersion: secret.metadata?.resourceVersion ?? '',
    };
  }

  private async write(value: T, resourceVersion: string | undefined): Promise<void> {
    const { name, namespace, labels, type } = this.options;
    const body: V1Secret = {
      metadata: { name, namespace, labels, ...(resourceVersion ? { resourceVersion } : {}) },
      type: type ?? 'Opaque',
      data: { [DOCUMENT_KEY]: Buffer.from(JSON.stringify(value)).toString('base64') },
    };
    if (resourceVersion) await this.api.replaceNamespacedSecret({ name, namespace, body });
    else await this.api.createNamespacedSecret({ namespace, body });
  }
}
