// Generates what the Helm chart (charts/courier) must not keep by hand:
//   - crds/: byte-for-byte copies of the repository's crds/, the single source
//     of truth (Helm installs a chart's CRDs from the chart's own crds/, and a
//     packaged chart cannot follow a link out of its directory);
//   - values.schema.json: the chart's own values, written here, and under
//     `config` the manager's configuration file schema, converted from the
//     very zod schema the manager validates its file with
//     (src/config/file.ts), so the chart accepts what the manager accepts.
// `node hack/gen-chart.ts` writes them; test/integration/helm-chart.test.ts
// fails when they are out of date.
import { readdir, readFile, writeFile, rm, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { courierConfigSchema } from '../src/config/file.ts';
import { LOG_LEVELS } from '../src/log/logger.ts';
import { PULL_POLICIES } from '../src/webhook/settings.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CHART_DIR = path.join(repoRoot, 'charts/courier');

type Schema = Record<string, unknown>;

// --- building blocks ----------------------------------------------------------

const object = (properties: Record<string, Schema>, extra: Schema = {}): Schema => ({
  type: 'object',
  additionalProperties: false,
  properties,
  ...extra,
});
const string = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const boolean: Schema = { type: 'boolean' };
const integer = (minimum: number, maximum?: number): Schema => ({
  type: 'integer',
  minimum,
  ...(maximum === undefined ? {} : { maximum }),
});
const stringMap: Schema = { type: 'object', additionalProperties: { type: 'string' } };
/** Kubernetes objects passed through as written (affinity, volumes, …): the apiserver checks them. */
const freeObject: Schema = { type: 'object' };
const listOf = (items: Schema): Schema => ({ type: 'array', items });

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const dnsLabel = string({ maxLength: 63, pattern: DNS_LABEL });
const optionalDnsLabel = string({ maxLength: 63, pattern: `^$|${DNS_LABEL}` });
// An image repository: registry host (with a port) and path, no tag or digest.
const IMAGE_REPOSITORY = '^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$';
const IMAGE_TAG = '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$';
const IMAGE_DIGEST = '^sha256:[a-f0-9]{64}$';
const orEmpty = (pattern: string) => `^$|${pattern}`;
/** The duration format the manager reads (src/config/duration.ts). */
const MANAGER_DURATION = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+$';
/** Durations the chart also turns into seconds (terminationGracePeriodSeconds), so whole units only. */
const wholeSeconds = (units: string) => string({ pattern: `^[1-9][0-9]*(${units})$` });
/** Go's time.ParseDuration, as cert-manager reads its durations. */
const goDuration = string({ pattern: '^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$' });
const quantity: Schema = {
  oneOf: [string({ pattern: '^[0-9]+(\\.[0-9]+)?([mkMGTPE]|[KMGTPE]i)?$' }), { type: 'number' }],
};
const resources = object({
  requests: { type: 'object', additionalProperties: quantity },
  limits: { type: 'object', additionalProperties: quantity },
});

const image = (allowEmpty: boolean) =>
  object({
    repository: string({ pattern: allowEmpty ? orEmpty(IMAGE_REPOSITORY) : IMAGE_REPOSITORY }),
    tag: string({ pattern: orEmpty(IMAGE_TAG) }),
    digest: string({ pattern: orEmpty(IMAGE_DIGEST) }),
    pullPolicy: { enum: allowEmpty ? ['', ...PULL_POLICIES] : [...PULL_POLICIES] },
  });

/** What both components' pods take. */
const podValues = {
  replicas: integer(1),
  heapLimitMiB: integer(64),
  resources,
  shutdownTimeout: wholeSeconds('s|m'),
  podAnnotations: stringMap,
  podLabels: stringMap,
  priorityClassName: string(),
  nodeSelector: stringMap,
  tolerations: listOf(freeObject),
  affinity: freeObject,
  spreadAcrossNodes: boolean,
  podDisruptionBudget: object({ enabled: boolean }),
};

const networkPolicyPeer = object({ podSelector: freeObject, namespaceSelector: freeObject, ipBlock: freeObject });

const issuerRef: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: string({ minLength: 1 }),
    kind: { enum: ['Issuer', 'ClusterIssuer'] },
    group: { const: 'cert-manager.io' },
  },
  // Empty, or a whole reference.
  dependentRequired: { kind: ['name'], group: ['name'] },
};

// --- the configuration file, from the manager's own schema -------------------

/**
 * The manager's zod schema as JSON schema, reshaped for messages a person can
 * act on: a discriminated union becomes an enum on its discriminator plus
 * if/then per branch (a oneOf would report every branch's failure), and
 * zod's implicit integer bounds, which say nothing, are dropped. Rules zod
 * states as refinements (unique store names, a default store that exists)
 * are checked by the chart's templates (courier.validate).
 */
export function configSchema(): Schema {
  const generated = z.toJSONSchema(courierConfigSchema, { io: 'input' }) as Schema;
  delete generated.$schema;
  return reshape(generated) as Schema;
}

function reshape(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(reshape);
  if (!node || typeof node !== 'object') return node;
  const schema = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, reshape(value)])) as Schema;
  if (schema.minimum === Number.MIN_SAFE_INTEGER) delete schema.minimum;
  if (schema.maximum === Number.MAX_SAFE_INTEGER) delete schema.maximum;
  const branches = schema.oneOf as Schema[] | undefined;
  const discriminator = branches && discriminatorOf(branches);
  if (!branches || !discriminator) return schema;
  const values = branches.map((b) => constOf(b, discriminator));
  delete schema.oneOf;
  return {
    ...schema,
    type: 'object',
    required: [discriminator],
    properties: { [discriminator]: { enum: values } },
    allOf: branches.map((branch, i) => ({
      if: { required: [discriminator], properties: { [discriminator]: { const: values[i] } } },
      then: branch,
    })),
  };
}

/** The property every branch fixes to a constant of its own, if there is one. */
function discriminatorOf(branches: Schema[]): string | undefined {
  const first = branches[0]?.properties as Record<string, Schema> | undefined;
  return Object.keys(first ?? {}).find((key) => branches.every((b) => constOf(b, key) !== undefined));
}

function constOf(branch: Schema, key: string): unknown {
  return ((branch.properties as Record<string, Schema> | undefined)?.[key] as Schema | undefined)?.const;
}

// --- the whole schema -----------------------------------------------------------

export function valuesSchema(): Schema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $comment: 'Generated by hack/gen-chart.ts (node hack/gen-chart.ts). Do not edit.',
    ...object({
      image: image(false),
      imagePullSecrets: listOf(object({ name: dnsLabel }, { required: ['name'] })),
      nameOverride: optionalDnsLabel,
      fullnameOverride: optionalDnsLabel,
      logLevel: { enum: [...LOG_LEVELS] },
      commonLabels: stringMap,
      manager: object({
        ...podValues,
        servingCertificateValidity: string({ pattern: MANAGER_DURATION }),
        serviceAccount: object({ annotations: stringMap }),
        extraEnv: listOf({ type: 'object', required: ['name'] }),
        extraVolumes: listOf({ type: 'object', required: ['name'] }),
        extraVolumeMounts: listOf({ type: 'object', required: ['name', 'mountPath'] }),
      }),
      webhook: object({
        ...podValues,
        drainSeconds: integer(0, 300),
        timeoutSeconds: integer(1, 30),
        excludedNamespaces: listOf(dnsLabel),
        agentImage: image(true),
        // At least 10m, checked by the templates (courier.validate) with a message.
        tokenExpiration: wholeSeconds('s|m|h'),
        credentialsSizeLimit: string({ pattern: '^[1-9][0-9]{0,6}(Ki|Mi|Gi)$' }),
      }),
      rbac: object({
        aggregateToDefaultRoles: boolean,
        uploadKeysReaders: listOf(
          object(
            {
              kind: { enum: ['User', 'Group', 'ServiceAccount'] },
              apiGroup: { enum: ['', 'rbac.authorization.k8s.io'] },
              name: string({ minLength: 1 }),
              namespace: dnsLabel,
            },
            { required: ['kind', 'name'] },
          ),
        ),
      }),
      broker: object({ port: integer(1, 65535) }),
      config: configSchema(),
      tls: object({
        mode: { enum: ['self-managed', 'cert-manager'] },
        certManager: object({ issuerRef, duration: goDuration, renewBefore: goDuration, caDuration: goDuration }),
      }),
      networkPolicy: object({ enabled: boolean, metricsFrom: listOf(networkPolicyPeer) }),
      serviceMonitor: object({
        enabled: boolean,
        interval: string({ pattern: '^[0-9]+(ms|s|m|h)$' }),
        scrapeTimeout: string({ pattern: '^[0-9]+(ms|s|m|h)$' }),
        labels: stringMap,
      }),
    }),
  };
}

// --- files ------------------------------------------------------------------------

/** Every generated file of the chart, by path relative to the chart, with its content. */
export async function chartFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const name of (await readdir(path.join(repoRoot, 'crds'))).filter((n) => n.endsWith('.yaml')).sort()) {
    files.set(path.join('crds', name), await readFile(path.join(repoRoot, 'crds', name), 'utf8'));
  }
  files.set('values.schema.json', `${JSON.stringify(valuesSchema(), null, 2)}\n`);
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await chartFiles();
  // Replaces the chart's crds/ wholly, so a CRD removed from crds/ goes too.
  await rm(path.join(CHART_DIR, 'crds'), { recursive: true, force: true });
  await mkdir(path.join(CHART_DIR, 'crds'));
  for (const [file, content] of files) await writeFile(path.join(CHART_DIR, file), content);
  console.log(`wrote ${[...files.keys()].join(', ')} under ${path.relative(repoRoot, CHART_DIR)}`);
}
