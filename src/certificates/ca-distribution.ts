// Puts Courier's CA where clients look for it: the caBundle of Courier's
// MutatingWebhookConfiguration (for the apiserver calling the webhook), and a
// ConfigMap in every namespace with ToolConnections (for agents calling the
// broker; a projected volume can only read ConfigMaps of the pod's namespace).
// Writes only what differs, so running it on every replica, often, is cheap.
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { BROKER_CA_CONFIGMAP, BROKER_CA_KEY } from '../api/v1alpha1/delivery.ts';
import { ResilientInformer } from '../controllers/runtime/informer.ts';
import type { Logger } from '../log/logger.ts';

const MANAGED = { 'app.kubernetes.io/managed-by': 'courier' };
const MAX_ATTEMPTS = 3;

/**
 * The broker CA ConfigMaps as they are, in every namespace (or one): so that
 * steady state costs no request, and so that a ConfigMap deleted under us (by
 * a person, or with its namespace) is noticed and written again — agents in
 * that namespace cannot start without it. Selected by name, which RBAC can
 * narrow list and watch to.
 */
export function brokerCaInformer(
  kubeConfig: KubeConfig,
  logger: Logger,
  namespace?: string,
): ResilientInformer<V1ConfigMap> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const fieldSelector = `metadata.name=${BROKER_CA_CONFIGMAP}`;
  return new ResilientInformer<V1ConfigMap>(
    kubeConfig,
    {
      path: namespace ? `/api/v1/namespaces/${namespace}/configmaps` : '/api/v1/configmaps',
      fieldSelector,
      list: () =>
        (namespace
          ? core.listNamespacedConfigMap({ namespace, fieldSelector })
          : core.listConfigMapForAllNamespaces({ fieldSelector })) as Promise<KubernetesListObject<V1ConfigMap>>,
      staleAfterMs: 10 * 60_000,
    },
    logger,
  );
}

export class CaDistribution {
  private readonly core: CoreV1Api;
  private readonly admission: AdmissionregistrationV1Api;
  private readonly published: Pick<ResilientInformer<V1ConfigMap>, 'get'>;

  /** `published`: the broker CA ConfigMaps as they are now (brokerCaInformer, started). */
  constructor(kubeConfig: KubeConfig, published: Pick<ResilientInformer<V1ConfigMap>, 'get'>) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.admission = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    this.published = published;
  }

  /** Sets the caBundle of every webhook in the configuration; false if the configuration does not exist. */
  async updateWebhookConfiguration(name: string, caBundlePem: string): Promise<boolean> {
    const caBundle = Buffer.from(caBundlePem).toString('base64');
    let configuration;
    try {
      configuration = await this.admission.readMutatingWebhookConfiguration({ name });
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return false;
      throw error;
    }
    const webhooks = configuration.webhooks ?? [];
    const stale = webhooks.map((w, i) => [w, i] as const).filter(([w]) => w.clientConfig.caBundle !== caBundle);
    if (stale.length === 0) return true;
    await this.admission.patchMutatingWebhookConfiguration({
      name,
      body: [
        { op: 'test', path: '/metadata/resourceVersion', value: configuration.metadata?.resourceVersion },
        ...stale.map(([, i]) => ({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle })),
      ],
    });
    return true;
  }

  /** Creates or updates the broker CA ConfigMap in `namespace`. */
  async publish(namespace: string, caBundlePem: string): Promise<void> {
    if (this.published.get(BROKER_CA_CONFIGMAP, namespace)?.data?.[BROKER_CA_KEY] === caBundlePem) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.writeConfigMap(namespace, caBundlePem);
        break;
      } catch (error) {
        // Another writer (a second replica, a concurrent pass) got there first: read again.
        const lostRace = error instanceof ApiException && (error.code === 409 || error.code === 404);
        if (!lostRace || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  private async writeConfigMap(namespace: string, caBundlePem: string): Promise<void> {
    let existing: V1ConfigMap | undefined;
    try {
      existing = await this.core.readNamespacedConfigMap({ name: BROKER_CA_CONFIGMAP, namespace });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) throw error;
    }
    if (existing?.data?.[BROKER_CA_KEY] === caBundlePem) return;
    const body: V1ConfigMap = {
      metadata: {
        name: BROKER_CA_CONFIGMAP,
        namespace,
        labels: MANAGED,
        ...(existing?.metadata?.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}),
      },
      data: { [BROKER_CA_KEY]: caBundlePem },
    };
    if (existing) await this.core.replaceNamespacedConfigMap({ name: BROKER_CA_CONFIGMAP, namespace, body });
    else await this.core.createNamespacedConfigMap({ namespace, body });
  }
}
