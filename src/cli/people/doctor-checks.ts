// The checks of `doctor`. Each returns result lines and never throws: a check
// that cannot look (forbidden, unreachable) says so as WARN or FAIL, and the
// others still run.
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  type KubeConfig,
  type V1Pod,
} from '@kubernetes/client-node';
import {
  CONNECTIONS_ANNOTATION,
  GROUP,
  INJECT_LABEL,
  SCAN_SCHEDULES,
  TOOL_CONNECTIONS,
  VERSION,
  type ToolConnection,
} from '../../api/v1alpha1/index.ts';
import { UPLOAD_KEYS_CONFIGMAP } from '../../crypto/key-hierarchy.ts';
import { describeCertificate } from '../../crypto/pki.ts';
import { ApiServerVersionProbe } from '../../kube/apiserver.ts';
import { JWKS_KEY, type Jwks } from '../../crypto/upload-keys.ts';
import { describeError, isApiError } from './cluster.ts';
import { getRaw, healthPort, listManagerPods, readLeader } from './manager-pods.ts';
import { formatAge } from './output.ts';

export type CheckStatus = 'OK' | 'WARN' | 'FAIL';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  message: string;
}

export interface DoctorContext {
  kubeConfig: KubeConfig;
  /** Where the dry-run probe pod goes and whose ToolConnections are looked at. */
  namespace: string;
  allNamespaces: boolean;
  courierNamespace: string;
  webhookConfigurationName: string;
  leaderElectionId: string;
  managerSelector: string;
  now: Date;
}

/** Label on the dry-run probe pod, so an audit log shows where it came from. */
export const PROBE_LABEL = 'courier.dev/doctor-probe';
export const SERVING_CERTIFICATE_SECRETS = ['courier-webhook-tls', 'courier-broker-tls'];

const result = (check: string, status: CheckStatus, message: string): CheckResult => ({ check, status, message });
const APISERVER_TIMEOUT_MS = 10_000;

/** Forbidden means "could not look", which is worth a warning, not a verdict. */
function unableTo(check: string, what: string, error: unknown): CheckResult {
  return result(check, isApiError(error, 403) ? 'WARN' : 'FAIL', `cannot ${what}: ${describeError(error)}`);
}

/** First: when the apiserver does not answer, nothing else can be checked. */
export async function checkApiServer(context: DoctorContext): Promise<CheckResult> {
  const server = context.kubeConfig.getCurrentCluster()?.server;
  try {
    const version = await new ApiServerVersionProbe(context.kubeConfig).fetchVersion(
      AbortSignal.timeout(APISERVER_TIMEOUT_MS),
    );
    return result('apiserver', 'OK', `${server} answers: Kubernetes ${version.gitVersion}`);
  } catch (error) {
    return result('apiserver', 'FAIL', `cannot reach ${server}: ${describeError(error)}`);
  }
}

export async function checkCrds(context: DoctorContext): Promise<CheckResult[]> {
  const extensions = context.kubeConfig.makeApiClient(ApiextensionsV1Api);
  const objects = context.kubeConfig.makeApiClient(CustomObjectsApi);
  const results: CheckResult[] = [];
  for (const { plural } of [TOOL_CONNECTIONS, SCAN_SCHEDULES]) {
    const name = `${plural}.${GROUP}`;
    try {
      const crd = await extensions.readCustomResourceDefinition({ name });
      const condition = (type: string) => crd.status?.conditions?.find((c) => c.type === type)?.status === 'True';
      const version = crd.spec.versions.find((v) => v.name === VERSION);
      if (!condition('Established') || !condition('NamesAccepted')) {
        results.push(result('crds', 'FAIL', `${name} is installed but not established (names not accepted?)`));
        continue;
      }
      if (!version?.served) {
        results.push(result('crds', 'FAIL', `${name} does not serve ${VERSION}; this Courier needs it`));
        continue;
      }
    } catch (error) {
      if (isApiError(error, 404)) {
        results.push(result('crds', 'FAIL', `${name} is not installed`));
        continue;
      }
      if (!isApiError(error, 403)) {
        results.push(unableTo('crds', `read ${name}`, error));
        continue;
      }
      // Reading CRDs is often not allowed; listing the objects below still proves them served.
    }
    try {
      await objects.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural,
        namespace: context.namespace,
        limit: 1,
      });
      results.push(result('crds', 'OK', `${name}: established, ${VERSION} served`));
    } catch (error) {
      results.push(unableTo('crds', `list ${plural} in ${context.namespace}`, error));
    }
  }
  return results;
}

export async function checkWebhookConfiguration(context: DoctorContext): Promise<CheckResult[]> {
  const name = context.webhookConfigurationName;
  let configuration;
  try {
    configuration = await context.kubeConfig
      .makeApiClient(AdmissionregistrationV1Api)
      .readMutatingWebhookConfiguration({ name });
  } catch (error) {
    if (isApiError(error, 404))
      return [result('webhook', 'FAIL', `MutatingWebhookConfiguration ${name} not found: pods get no credentials`)];
    return [unableTo('webhook', `read MutatingWebhookConfiguration ${name}`, error)];
  }
  const results: CheckResult[] = [];
  for (const webhook of configuration.webhooks ?? []) {
    const { caBundle, service, url } = webhook.clientConfig;
    if (!caBundle) {
      results.push(
        result(
          'webhook',
          'FAIL',
          `${webhook.name}: no caBundle; the manager fills it in (is it running, with --webhook-configuration-name ${name}?)`,
        ),
      );
    } else {
      const expiry = caExpiry(caBundle);
      results.push(
        expiry === undefined
          ? result('webhook', 'FAIL', `${webhook.name}: caBundle holds no readable certificate`)
          : expiry < context.now
            ? result('webhook', 'FAIL', `${webhook.name}: the CA in caBundle expired ${expiry.toISOString()}`)
            : result(
                'webhook',
                'OK',
                `${webhook.name}: caBundle set, CA valid until ${expiry.toISOString()}; failurePolicy ${webhook.failurePolicy ?? 'Fail'}`,
              ),
      );
    }
    if (service) results.push(await checkServiceEndpoints(context, service.namespace, service.name));
    else if (url) results.push(result('webhook', 'OK', `${webhook.name}: called at ${url} (no Service to check)`));
  }
  if (results.length === 0)
    results.push(result('webhook', 'FAIL', `MutatingWebhookConfiguration ${name} has no webhooks`));
  return results;
}

function caExpiry(caBundle: string): Date | undefined {
  const pem = Buffer.from(caBundle, 'base64').toString();
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!first) return undefined;
  try {
    return describeCertificate(first).notAfter;
  } catch {
    return undefined;
  }
}

async function checkServiceEndpoints(context: DoctorContext, namespace: string, service: string): Promise<CheckResult> {
  try {
    const slices = await context.kubeConfig
      .makeApiClient(DiscoveryV1Api)
      .listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${service}` });
    const endpoints = slices.items.flatMap((slice) => slice.endpoints ?? []);
    const ready = endpoints.filter((e) => e.conditions?.ready !== false).length;
    if (ready === 0) {
      return result(
        'webhook',
        'FAIL',
        `service ${namespace}/${service} has no ready endpoints (${endpoints.length} not ready): the webhook is not running`,
      );
    }
    return result('webhook', 'OK', `service ${namespace}/${service} has ${ready} ready endpoint(s)`);
  } catch (error) {
    return unableTo('webhook', `list the endpoints of service ${namespace}/${service}`, error);
  }
}

/**
 * A real admission round trip: a dry-run pod that opts in but names no
 * connection. The webhook must refuse it with its own message; nothing is
 * created (dry run), and the pod is labelled so an audit log shows its origin.
 */
export async function probeWebhook(context: DoctorContext): Promise<CheckResult> {
  const { namespace } = context;
  const pod: V1Pod = {
    metadata: { generateName: 'courier-doctor-', labels: { [INJECT_LABEL]: 'true', [PROBE_LABEL]: 'true' } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      containers: [{ name: 'probe', image: 'courier.dev/doctor-probe' }],
    },
  };
  try {
    await context.kubeConfig.makeApiClient(CoreV1Api).createNamespacedPod({ namespace, body: pod, dryRun: 'All' });
    return result(
      'webhook-call',
      'WARN',
      `a dry-run pod labelled ${INJECT_LABEL}=true in ${namespace} was admitted without the webhook: its namespaceSelector leaves out ${namespace}, or failurePolicy Ignore hid a failure`,
    );
  } catch (error) {
    const message = describeError(error);
    if (isApiError(error, 400) && message.includes(CONNECTIONS_ANNOTATION)) {
      return result(
        'webhook-call',
        'OK',
        `the webhook answered a dry-run pod in ${namespace} (and refused it, as it should)`,
      );
    }
    if (message.includes('failed calling webhook')) return result('webhook-call', 'FAIL', message);
    return result('webhook-call', 'WARN', `could not probe with a dry-run pod in ${namespace}: ${message}`);
  }
}

export async function checkServingCertificates(context: DoctorContext): Promise<CheckResult[]> {
  const core = context.kubeConfig.makeApiClient(CoreV1Api);
  const results: CheckResult[] = [];
  for (const name of SERVING_CERTIFICATE_SECRETS) {
    let pem: string | undefined;
    try {
      const secret = await core.readNamespacedSecret({ name, namespace: context.courierNamespace });
      pem = secret.data?.['tls.crt'] ? Buffer.from(secret.data['tls.crt'], 'base64').toString() : undefined;
    } catch (error) {
      if (isApiError(error, 404)) {
        results.push(
          result(
            'certificates',
            'FAIL',
            `Secret ${context.courierNamespace}/${name} not found: the manager issues it when it starts`,
          ),
        );
      } else {
        results.push(unableTo('certificates', `read Secret ${context.courierNamespace}/${name}`, error));
      }
      continue;
    }
    if (!pem) {
      results.push(result('certificates', 'FAIL', `Secret ${context.courierNamespace}/${name} has no tls.crt`));
      continue;
    }
    const { notBefore, notAfter } = describeCertificate(pem);
    const lifetime = notAfter.getTime() - notBefore.getTime();
    const left = notAfter.getTime() - context.now.getTime();
    const until = `expires ${notAfter.toISOString()} (${formatAge(notAfter, context.now)})`;
    if (left <= 0) results.push(result('certificates', 'FAIL', `${name}: expired ${notAfter.toISOString()}`));
    else if (left < lifetime / 3) {
      // The manager renews with a third of the lifetime left, so this one was missed.
      results.push(
        result('certificates', 'WARN', `${name}: ${until}; it is overdue for renewal: is the manager running?`),
      );
    } else results.push(result('certificates', 'OK', `${name}: ${until}`));
  }
  return results;
}

export async function checkLeader(context: DoctorContext): Promise<CheckResult> {
  const lease = `${context.courierNamespace}/${context.leaderElectionId}`;
  try {
    const leader = await readLeader(
      context.kubeConfig,
      context.courierNamespace,
      context.leaderElectionId,
      context.now,
    );
    if (!leader) {
      return result(
        'leader',
        'WARN',
        `no Lease ${lease}: leader election is off (one replica), or no manager ever ran`,
      );
    }
    if (leader.expired) {
      const last = leader.renewTime ? `, last renewed ${formatAge(leader.renewTime, context.now)} ago` : '';
      return result(
        'leader',
        'FAIL',
        `no current leader in Lease ${lease}${leader.holder ? ` (was ${leader.holder}${last})` : ''}: nothing is reconciled`,
      );
    }
    const since = leader.acquireTime ? ` for ${formatAge(leader.acquireTime, context.now)}` : '';
    return result(
      'leader',
      'OK',
      `${leader.holder} leads${since}, renewed ${formatAge(leader.renewTime, context.now)} ago`,
    );
  } catch (error) {
    return unableTo('leader', `read Lease ${lease}`, error);
  }
}

/**
 * Store health as the manager itself sees it: each manager pod's /readyz
 * (verbose), through the apiserver's pod proxy. Its store-<name> checks
 * reach the stores; its other checks are reported when they fail.
 */
export async function checkManagerReadiness(context: DoctorContext): Promise<CheckResult[]> {
  let pods: V1Pod[];
  try {
    pods = await listManagerPods(context.kubeConfig, context.courierNamespace, context.managerSelector);
  } catch (error) {
    return [unableTo('stores', `list the manager's pods in ${context.courierNamespace}`, error)];
  }
  const running = pods.filter((pod) => pod.status?.phase === 'Running');
  if (running.length === 0) {
    return [
      result(
        'stores',
        'FAIL',
        `no running manager pod matches ${context.managerSelector} in ${context.courierNamespace} (--manager-selector)`,
      ),
    ];
  }
  const results: CheckResult[] = [];
  for (const pod of running) {
    const name = pod.metadata!.name!;
    const path = `/api/v1/namespaces/${context.courierNamespace}/pods/${name}:${healthPort(pod)}/proxy/readyz?verbose`;
    try {
      const { status, body } = await getRaw(context.kubeConfig, path);
      const checks = [...body.matchAll(/^\[([+-])\](\S+) (.*)$/gm)].map(([, sign, check, text]) => ({
        ok: sign === '+',
        check: check!,
        text: text!,
      }));
      if (checks.length === 0) {
        // Not the manager's answer: the apiserver's own (forbidden, cannot reach the pod).
        results.push(
          result(
            'stores',
            status === 403 ? 'WARN' : 'FAIL',
            `pod ${name}: /readyz through the apiserver: HTTP ${status}: ${statusMessage(body)}`,
          ),
        );
        continue;
      }
      const stores = checks.filter((c) => c.check.startsWith('store-'));
      const failed = checks.filter((c) => !c.ok);
      const storeText =
        stores.map((c) => `${c.check.slice('store-'.length)} ${c.ok ? 'ok' : 'failing'}`).join(', ') ||
        'no store checks';
      results.push(
        failed.length === 0
          ? result('stores', 'OK', `pod ${name}: ready; stores: ${storeText}`)
          : result(
              'stores',
              'FAIL',
              `pod ${name}: not ready: ${failed.map((c) => `${c.check} ${c.text}`).join(', ')}; stores: ${storeText}`,
            ),
      );
    } catch (error) {
      results.push(unableTo('stores', `reach pod ${name}'s /readyz through the apiserver`, error));
    }
  }
  return results;
}

/** The message of a Kubernetes Status body, else the start of the body. */
function statusMessage(body: string): string {
  try {
    const message = (JSON.parse(body) as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  } catch {
    // Not JSON: shown as it is.
  }
  return body.trim().slice(0, 200);
}

/** ToolConnections that are not Ready, by reason: what the stores and validation say per connection. */
export async function checkConnections(context: DoctorContext): Promise<CheckResult> {
  const where = context.allNamespaces ? 'all namespaces' : context.namespace;
  try {
    const objects = context.kubeConfig.makeApiClient(CustomObjectsApi);
    const resource = { group: GROUP, version: VERSION, plural: TOOL_CONNECTIONS.plural };
    const list = (
      context.allNamespaces
        ? await objects.listClusterCustomObject(resource)
        : await objects.listNamespacedCustomObject({ ...resource, namespace: context.namespace })
    ) as { items: ToolConnection[] };
    const notReady = list.items.filter(
      (tc) => tc.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True',
    );
    if (notReady.length === 0)
      return result('connections', 'OK', `${list.items.length} ToolConnection(s) in ${where}, all Ready`);
    const names = notReady.map((tc) => {
      const ready = tc.status?.conditions?.find((c) => c.type === 'Ready');
      const name = context.allNamespaces ? `${tc.metadata.namespace}/${tc.metadata.name}` : tc.metadata.name;
      return `${name} (${ready?.reason ?? 'no status yet'})`;
    });
    return result(
      'connections',
      'WARN',
      `${notReady.length} of ${list.items.length} ToolConnection(s) in ${where} not Ready: ${names.join(', ')}`,
    );
  } catch (error) {
    return unableTo('connections', `list ToolConnections in ${where}`, error);
  }
}

/** The public keys `connect` encrypts to. */
export async function checkUploadKeys(context: DoctorContext): Promise<CheckResult> {
  const where = `${context.courierNamespace}/${UPLOAD_KEYS_CONFIGMAP}`;
  try {
    const map = await context.kubeConfig
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: UPLOAD_KEYS_CONFIGMAP, namespace: context.courierNamespace });
    const jwks = JSON.parse(map.data?.[JWKS_KEY] ?? '{"keys":[]}') as Jwks;
    if (jwks.keys.length === 0)
      return result('upload-keys', 'FAIL', `ConfigMap ${where} publishes no key: connect cannot encrypt`);
    return result(
      'upload-keys',
      'OK',
      `${jwks.keys.length} key(s) published in ConfigMap ${where}; connect encrypts to ${jwks.keys[0]!.kid}`,
    );
  } catch (error) {
    if (isApiError(error, 404))
      return result(
        'upload-keys',
        'FAIL',
        `ConfigMap ${where} not found: the manager publishes it; connect cannot encrypt`,
      );
    return unableTo('upload-keys', `read ConfigMap ${where}`, error);
  }
}
