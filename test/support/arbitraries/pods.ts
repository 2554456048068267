// Pods and AdmissionReviews for the webhook's properties: mostly pods that
// opt in, naming ToolConnections that do and do not exist, with the shapes
// that make the webhook think — Courier's reserved names already present,
// mounts where Courier mounts, env vars it sets, odd uids and deadlines —
// and, wrapped around them, reviews from well-formed to nonsense.
import fc from 'fast-check';
import {
  AGENT_CONTAINER,
  CREDENTIALS_DIR,
  CREDENTIALS_DIR_ENV,
  CREDENTIALS_VOLUME,
  TOKEN_DIR,
  TOKEN_VOLUME,
} from '../../../src/api/v1alpha1/delivery.ts';
import { CONNECTION_PATHS_ANNOTATION, CONNECTIONS_ANNOTATION, INJECT_LABEL } from '../../../src/api/v1alpha1/index.ts';
import { anyJson, damaged, dnsLabel, hostileString } from './json.ts';

/** Mostly an absolute path of the pod's own; now and then one Courier uses, or junk. */
function mountPath(connections: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    {
      arbitrary: fc.array(dnsLabel(), { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join('/')}`),
      weight: 6,
    },
    {
      arbitrary: fc.constantFrom(
        CREDENTIALS_DIR,
        TOKEN_DIR,
        '/home/scan/.aws',
        ...connections.map((name) => `${CREDENTIALS_DIR}/${name}`),
      ),
      weight: 1,
    },
    { arbitrary: hostileString(), weight: 1 },
  );
}

/** Mostly the pod's own volumes; Courier's names now and then. */
function volumeName(): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constantFrom('data', 'kube-api-access-x1'), weight: 6 },
    { arbitrary: fc.constantFrom(CREDENTIALS_VOLUME, TOKEN_VOLUME), weight: 1 },
    { arbitrary: dnsLabel(), weight: 2 },
  );
}

function container(connections: readonly string[], names: fc.Arbitrary<string>): fc.Arbitrary<object> {
  return fc.record(
    {
      name: names,
      image: fc.oneof(fc.constant('scanner:1'), hostileString()),
      volumeMounts: fc.array(
        fc.record(
          {
            name: volumeName(),
            mountPath: mountPath(connections),
            subPath: fc.oneof(fc.constantFrom(...connections), dnsLabel()),
            readOnly: fc.boolean(),
          },
          { requiredKeys: ['name', 'mountPath'] },
        ),
        { maxLength: 3 },
      ),
      env: fc.array(
        fc.record(
          {
            name: fc.oneof(
              fc.constantFrom(CREDENTIALS_DIR_ENV, 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'PATH'),
              hostileString(),
            ),
            value: hostileString(),
          },
          { requiredKeys: ['name'] },
        ),
        { maxLength: 3 },
      ),
      securityContext: fc.record(
        { runAsUser: fc.oneof(fc.constantFrom(0, 1000, 65532), fc.nat()) },
        { requiredKeys: [] },
      ),
      restartPolicy: fc.constant('Always'),
      // What the pod's author or the apiserver put there that the webhook does not read.
      terminationMessagePath: fc.constant('/dev/termination-log'),
    },
    { requiredKeys: ['name'] },
  );
}

/** A JSON object giving some of `names` a mount path of their own. */
function goodPaths(names: readonly string[]): fc.Arbitrary<string> {
  return fc
    .subarray([...new Set(names)])
    .chain((chosen) =>
      fc
        .tuple(...chosen.map(() => fc.array(dnsLabel(), { minLength: 1, maxLength: 3 })))
        .map((parts) => JSON.stringify(Object.fromEntries(chosen.map((name, i) => [name, `/${parts[i]!.join('/')}`])))),
    );
}

/** The connection-paths annotation gone wrong: bad paths, unknown names, or not JSON at all. */
function badPaths(connections: readonly string[]): fc.Arbitrary<string> {
  const paths = fc.dictionary(
    fc.oneof(fc.constantFrom(...connections), dnsLabel()),
    fc.oneof(
      mountPath(connections),
      fc.constantFrom('/', 'relative/path', '/a/../b', '/c:d', CREDENTIALS_DIR),
      anyJson(1),
    ),
    { maxKeys: 3 },
  );
  return fc.oneof(
    { arbitrary: paths.map((value) => JSON.stringify(value)), weight: 4 },
    { arbitrary: anyJson(2).map((value) => JSON.stringify(value)), weight: 1 },
    { arbitrary: hostileString(), weight: 1 },
  );
}

/**
 * Courier's annotations: names that exist and do not (spaced, repeated, or
 * junk instead), and mostly fitting custom paths for some of them.
 */
function courierAnnotations(connections: readonly string[]): fc.Arbitrary<Record<string, string>> {
  const name = fc.oneof(
    { arbitrary: fc.constantFrom(...connections), weight: 8 },
    { arbitrary: dnsLabel(), weight: 1 },
  );
  // Built outside chain(), which would build them again for every value.
  const junkPaths = badPaths(connections);
  const junk = hostileString();
  return fc.array(name, { minLength: 1, maxLength: 4 }).chain((names) =>
    fc.record(
      {
        [CONNECTIONS_ANNOTATION]: fc.oneof(
          { arbitrary: fc.constant(names.join(',')), weight: 16 },
          { arbitrary: fc.constant(` ${names.join(' , ')} `), weight: 2 },
          { arbitrary: fc.constantFrom('', ',', `${names[0]},`, names.join(',').toUpperCase(), 'a_b'), weight: 1 },
          { arbitrary: junk, weight: 1 },
        ),
        [CONNECTION_PATHS_ANNOTATION]: fc.oneof(
          { arbitrary: goodPaths(names), weight: 6 },
          { arbitrary: junkPaths, weight: 1 },
        ),
        other: junk,
      },
      { requiredKeys: [CONNECTIONS_ANNOTATION] },
    ),
  );
}

/** Courier's two volumes as a user might declare them. */
function volume(): fc.Arbitrary<object> {
  return fc.oneof(
    volumeName().map((name) => ({ name, emptyDir: {} })),
    volumeName().map((name) => ({ name, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } })),
    volumeName().map((name) => ({ name, configMap: { name: 'settings' } })),
  );
}

export interface PodOptions {
  /** The ToolConnection names that exist (and some that do not are mixed in). */
  connections: readonly string[];
}

/** A pod as a user writes it (or a controller makes it), mostly opted in. */
export function pod({ connections }: PodOptions): fc.Arbitrary<Record<string, unknown>> {
  const containerName = fc.oneof(
    { arbitrary: fc.constantFrom('scanner', 'app', 'helper'), weight: 16 },
    { arbitrary: fc.constant(AGENT_CONTAINER), weight: 1 },
    { arbitrary: dnsLabel(), weight: 3 },
  );
  const metadata = fc.record(
    {
      name: fc.oneof(dnsLabel(), hostileString()),
      generateName: fc.constant('scan-'),
      labels: fc.oneof(
        { arbitrary: fc.constant({ [INJECT_LABEL]: 'true' }), weight: 16 },
        { arbitrary: fc.constantFrom('false', 'True', '').map((value) => ({ [INJECT_LABEL]: value })), weight: 1 },
        { arbitrary: fc.dictionary(hostileString(), hostileString(), { maxKeys: 2 }), weight: 1 },
      ),
      annotations: courierAnnotations(connections),
    },
    // Without the label or the annotation the webhook has little to do; damaged() removes them now and then.
    { requiredKeys: ['labels', 'annotations'] },
  );
  const spec = fc.record(
    {
      containers: fc.array(container(connections, containerName), { minLength: 1, maxLength: 3 }),
      initContainers: fc.array(container(connections, containerName), { maxLength: 2 }),
      volumes: fc.array(volume(), { maxLength: 3 }),
      activeDeadlineSeconds: fc.oneof(fc.constantFrom(60, 3600, 3601, 43_200, 100_000), fc.nat()),
      securityContext: fc.record(
        { runAsUser: fc.oneof(fc.constantFrom(0, 1000), fc.nat()), fsGroup: fc.oneof(fc.constant(2000), fc.nat()) },
        { requiredKeys: [] },
      ),
      serviceAccountName: dnsLabel(),
    },
    { requiredKeys: ['containers'] },
  );
  return fc.record({ apiVersion: fc.constant('v1'), kind: fc.constant('Pod'), metadata, spec });
}

/** A pod as above, or one with a subtree replaced by junk or removed. */
export function oddPod(options: PodOptions): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: pod(options), weight: 8 }, { arbitrary: damaged(pod(options)), weight: 1 });
}

export interface ReviewOptions extends PodOptions {
  namespace: string;
}

/** The request part of a pod CREATE, as the apiserver sends it, around `object`. */
function request(namespace: string, object: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> {
  const podKind = { group: '', version: 'v1', kind: 'Pod' };
  const podResource = { group: '', version: 'v1', resource: 'pods' };
  const fields = fc.record(
    {
      uid: fc.oneof({ arbitrary: fc.uuid(), weight: 9 }, { arbitrary: hostileString(), weight: 1 }),
      kind: fc.oneof(
        { arbitrary: fc.constant(podKind), weight: 48 },
        { arbitrary: fc.constant({ group: 'apps', version: 'v1', kind: 'Deployment' }), weight: 1 },
      ),
      resource: fc.oneof(
        { arbitrary: fc.constant(podResource), weight: 48 },
        { arbitrary: fc.constant({ group: '', version: 'v1', resource: 'configmaps' }), weight: 1 },
      ),
      namespace: fc.oneof({ arbitrary: fc.constant(namespace), weight: 48 }, { arbitrary: fc.constant(''), weight: 1 }),
      operation: fc.oneof(
        { arbitrary: fc.constant('CREATE'), weight: 48 },
        { arbitrary: fc.constantFrom('UPDATE', 'DELETE', 'CONNECT'), weight: 1 },
      ),
      userInfo: fc.constant({ username: 'system:serviceaccount:kube-system:job-controller' }),
      object,
      dryRun: fc.boolean(),
    },
    { requiredKeys: ['uid', 'kind', 'resource', 'namespace', 'operation', 'object'] },
  );
  // A subresource (ephemeral containers, status) is rare: the webhook skips those.
  const subResource = fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 16 },
    { arbitrary: fc.constantFrom('ephemeralcontainers', 'status'), weight: 1 },
  );
  return fc
    .tuple(fields, subResource)
    .map(([request, sub]) => (sub === undefined ? request : { ...request, subResource: sub }));
}

/** An AdmissionReview around a pod, the request damaged now and then. */
export function admissionReview({ namespace, connections }: ReviewOptions): fc.Arbitrary<Record<string, unknown>> {
  const wellFormed = request(namespace, oddPod({ connections }));
  const requests = fc.oneof({ arbitrary: wellFormed, weight: 12 }, { arbitrary: damaged(wellFormed, 1), weight: 1 });
  return fc.record({
    apiVersion: fc.constant('admission.k8s.io/v1'),
    kind: fc.constant('AdmissionReview'),
    request: requests,
  });
}

/** Anything at all a client might POST as a review: good reviews, damaged ones, and random JSON. */
export function anyReviewBody(options: ReviewOptions): fc.Arbitrary<unknown> {
  const review = admissionReview(options);
  return fc.oneof(
    { arbitrary: review, weight: 16 },
    // Wrong apiVersion or kind, no request, no uid.
    {
      arbitrary: fc.tuple(review, fc.constantFrom('apiVersion', 'kind', 'request', 'uid')).map(([body, field]) => {
        const copy = structuredClone(body);
        if (field === 'uid') delete (copy.request as Record<string, unknown>).uid;
        else if (field === 'request') delete copy.request;
        else copy[field] = field === 'apiVersion' ? 'admission.k8s.io/v1beta1' : 'AdmissionRequest';
        return copy;
      }),
      weight: 1,
    },
    { arbitrary: damaged(review, 2), weight: 1 },
    { arbitrary: anyJson(), weight: 1 },
  );
}
