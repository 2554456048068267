// ToolConnections and ScanSchedules for the CRD fuzz suite: generated from
// crds/ by crd-schema.ts, with the hints a schema walk cannot give — the
// cross-field rules of a ToolConnection's provider and method (applied to
// most, not all, objects), cron expressions built from their fields, real
// and unreal time zones, and Job pod templates.
import path from 'node:path';
import fc from 'fast-check';
import { API_VERSION, RUN_NOW_ANNOTATION } from '../../../src/api/v1alpha1/index.ts';
import { REPO_ROOT } from '../binaries.ts';
import { crdObject, crdSchema } from './crd-schema.ts';
import { anyJson, dnsLabel, hostileString } from './json.ts';

type Json = Record<string, unknown>;
type CrdObject = { apiVersion: string; kind: string; metadata: Json & { name: string }; spec: unknown };

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** How often a node is replaced by nonsense: about one object in three carries some. */
const NONSENSE_ONE_IN = 40;

type Shape = 'aws-assumeRole' | 'aws-accessKey' | 'generic';

/** Makes a generated spec obey the provider and method rules (the CEL rules on spec and spec.aws). */
function coherent(object: CrdObject, shape: Shape): CrdObject {
  if (!isObject(object.spec)) return object;
  const spec: Json = { ...object.spec };
  if (shape === 'generic') {
    spec.provider = 'generic';
    delete spec.aws;
    if (!isObject(spec.generic)) spec.generic = { purpose: 'ssh' };
    if (!isObject(spec.credentialsSecretRef)) spec.credentialsSecretRef = { name: `${object.metadata.name}-source` };
  } else {
    spec.provider = 'aws';
    delete spec.generic;
    const aws: Json = isObject(spec.aws) ? { ...spec.aws } : {};
    if (shape === 'aws-assumeRole') {
      aws.authMethod = 'assumeRole';
      delete aws.allowLongLivedKey;
      delete spec.credentialsSecretRef;
      if (typeof aws.roleArn !== 'string') aws.roleArn = 'arn:aws:iam::123456789012:role/ScanRole';
      if (typeof aws.accountId === 'string') aws.roleArn = `arn:aws:iam::${aws.accountId}:role/ScanRole`;
    } else {
      aws.authMethod = 'accessKey';
      delete aws.roleArn;
      delete aws.externalId;
      delete aws.sessionPolicy;
      if (!isObject(spec.credentialsSecretRef)) spec.credentialsSecretRef = { name: `${object.metadata.name}-source` };
    }
    spec.aws = aws;
  }
  return { ...object, spec };
}

/** "90d", "6h", "30m": mostly what the CEL rules take, sometimes a zero or under 5m. */
function duration(): fc.Arbitrary<string> {
  return fc.oneof(
    {
      arbitrary: fc
        .tuple(fc.integer({ min: 1, max: 99_999 }), fc.constantFrom('d', 'h', 'm'))
        .map(([n, unit]) => `${n}${unit}`),
      weight: 12,
    },
    { arbitrary: fc.constantFrom('0d', '4m', '1m', '5m', '1w', '90', '1h30m', '100000d'), weight: 1 },
  );
}

/** Session tag keys: letters, digits and a few signs; now and then a reserved prefix. */
function sessionTagKey(): fc.Arbitrary<string> {
  return fc.oneof(
    {
      arbitrary: fc.stringMatching(/^[A-Za-z0-9 _.:/=+@-]{1,20}$/).filter((k) => !/^(courier:|aws:)/i.test(k)),
      weight: 12,
    },
    { arbitrary: fc.constantFrom('courier:pod', 'AWS:x', 'aws:team', ''), weight: 1 },
  );
}

export interface ToolConnectionOptions {
  /** Draw spec.store from these names (absent stays possible); any name the schema allows otherwise. */
  stores?: readonly string[];
}

/** ToolConnections: two in three follow the provider rules (their leaves may still be nonsense). */
export function toolConnection({ stores }: ToolConnectionOptions = {}): fc.Arbitrary<CrdObject> {
  const schema = crdSchema(path.join(REPO_ROOT, 'crds/courier.dev_toolconnections.yaml'));
  const raw = crdObject(
    schema,
    { apiVersion: API_VERSION, kind: 'ToolConnection' },
    {
      nonsenseOneIn: NONSENSE_ONE_IN,
      overrides: {
        'spec.validation.interval': duration(),
        'spec.rotation.maxKeyAge': duration(),
        'spec.aws.sessionTags{}': sessionTagKey(),
        ...(stores ? { 'spec.store': fc.constantFrom(...stores) } : {}),
      },
    },
  );
  return fc.oneof(
    { arbitrary: raw, weight: 1 },
    {
      arbitrary: fc
        .tuple(raw, fc.constantFrom<Shape>('aws-assumeRole', 'aws-accessKey', 'generic'))
        .map(([object, shape]) => coherent(object, shape)),
      weight: 2,
    },
  );
}

function cronField(min: number, max: number, names: readonly string[] = []): fc.Arbitrary<string> {
  const value = fc.oneof(
    { arbitrary: fc.integer({ min, max }).map(String), weight: 24 },
    ...(names.length > 0
      ? [{ arbitrary: fc.constantFrom(...names, ...names.map((n) => n.toUpperCase())), weight: 8 }]
      : []),
    // Out of range: the CEL rules refuse these.
    { arbitrary: fc.constantFrom(String(min - 1), String(max + 1), '99'), weight: 1 },
  );
  const step = fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: 70 }), weight: 24 },
    { arbitrary: fc.constant(0), weight: 1 },
  );
  const part = fc.oneof(
    { arbitrary: fc.constant('*'), weight: 4 },
    { arbitrary: value, weight: 4 },
    { arbitrary: fc.tuple(value, value).map(([a, b]) => `${a}-${b}`), weight: 2 },
    { arbitrary: fc.tuple(fc.constantFrom('*', String(min)), step).map(([a, n]) => `${a}/${n}`), weight: 2 },
  );
  return fc.array(part, { minLength: 1, maxLength: 3 }).map((parts) => parts.join(','));
}

/** Cron expressions: five fields from their parts, macros, and now and then something else. */
export function cronExpression(): fc.Arbitrary<string> {
  const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
  const days = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
  const fields = fc.tuple(
    cronField(0, 59),
    cronField(0, 23),
    fc.oneof({ arbitrary: cronField(1, 31), weight: 6 }, { arbitrary: fc.constant('?'), weight: 1 }),
    cronField(1, 12, months),
    fc.oneof({ arbitrary: cronField(0, 6, days), weight: 6 }, { arbitrary: fc.constant('?'), weight: 1 }),
  );
  return fc.oneof(
    { arbitrary: fields.map((parts) => parts.join(' ')), weight: 12 },
    { arbitrary: fields.map((parts) => `  ${parts.join('   ')} `), weight: 1 },
    {
      arbitrary: fc.constantFrom(
        '@daily',
        '@hourly',
        '@weekly',
        '@monthly',
        '@yearly',
        '@annually',
        '@midnight',
        '@every 5m',
        '@reboot',
      ),
      weight: 2,
    },
    {
      arbitrary: fc.constantFrom('0 0 30 2 *', '* * * *', '* * * * * *', 'CRON_TZ=UTC 0 * * * *', '60 * * * *'),
      weight: 1,
    },
    { arbitrary: hostileString(), weight: 1 },
  );
}

/**
 * A Job's pod spec: mostly one the apiserver would take for a Job, sometimes
 * (unless `valid`) one it would not — which the CRD lets through.
 */
function podSpec(): fc.Arbitrary<Json> {
  const bad = 1;
  const container = fc.record(
    {
      name: fc.oneof(
        { arbitrary: dnsLabel(), weight: 40 },
        { arbitrary: fc.constantFrom('Scan_Tool', ''), weight: bad },
      ),
      image: fc.oneof(
        { arbitrary: fc.constant('scanner:1'), weight: 40 },
        { arbitrary: fc.constantFrom('', ' x'), weight: bad },
      ),
      args: fc.array(fc.string({ maxLength: 10 }), { maxLength: 2 }),
    },
    { requiredKeys: ['name', 'image'] },
  );
  return fc.record(
    {
      restartPolicy: fc.oneof(
        { arbitrary: fc.constantFrom('Never', 'OnFailure'), weight: 40 },
        { arbitrary: fc.constantFrom('Always', 'never'), weight: bad },
      ),
      containers: fc.oneof(
        { arbitrary: fc.array(container, { minLength: 1, maxLength: 2 }), weight: 40 },
        { arbitrary: fc.constant([]), weight: bad },
      ),
      // Passed through by the CRD (preserve-unknown-fields); the Job's own validation decides.
      activeDeadlineSeconds: fc.oneof(
        { arbitrary: fc.integer({ min: 1, max: 86_400 }), weight: 40 },
        { arbitrary: anyJson(0), weight: bad },
      ),
    },
    { requiredKeys: ['restartPolicy', 'containers'] },
  );
}

export interface ScanScheduleOptions {
  /** ToolConnections that exist and are Ready, named by most schedules. */
  readyConnections: readonly string[];
}

/** ScanSchedules, half of them asking for a run now (so a Job is attempted at once). */
export function scanSchedule({ readyConnections }: ScanScheduleOptions): fc.Arbitrary<CrdObject> {
  const schema = crdSchema(path.join(REPO_ROOT, 'crds/courier.dev_scanschedules.yaml'));
  const raw = crdObject(
    schema,
    { apiVersion: API_VERSION, kind: 'ScanSchedule' },
    {
      nonsenseOneIn: NONSENSE_ONE_IN,
      overrides: {
        'spec.schedule': cronExpression(),
        'spec.timeZone': fc.constantFrom(
          'UTC',
          'Europe/Berlin',
          'America/New_York',
          'Asia/Kolkata',
          'Etc/UTC',
          'GMT',
          'Local',
          'Mars/Olympus',
          'America/Argentina/Buenos_Aires',
        ),
        'spec.connections[].name': fc.oneof(
          { arbitrary: fc.constantFrom(...readyConnections), weight: 6 },
          { arbitrary: dnsLabel(), weight: 1 },
        ),
        'spec.connections[].mountPath': fc.oneof(
          {
            arbitrary: fc.array(dnsLabel(), { minLength: 1, maxLength: 3 }).map((parts) => `/${parts.join('/')}`),
            weight: 12,
          },
          { arbitrary: fc.constantFrom('/', 'relative', '/a/../b', '/c:d', '/var/run/courier'), weight: 1 },
        ),
        'spec.jobTemplate.spec.template.spec': podSpec(),
      },
    },
  );
  return fc
    .tuple(raw, fc.boolean(), fc.uuid())
    .map(([object, runNow, token]) =>
      runNow ? { ...object, metadata: { ...object.metadata, annotations: { [RUN_NOW_ANNOTATION]: token } } } : object,
    );
}
