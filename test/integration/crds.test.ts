// The CRDs against a real kube-apiserver: samples apply, printer columns and
// defaults show, and nonsense is rejected by the apiserver itself (schema or
// CEL) with the field path and a message a user can act on.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { createTestNamespace, kubectl } from '../support/cluster.ts';
import { REPO_ROOT } from '../support/binaries.ts';

type Manifest = Record<string, any>;

const validAssumeRole = (): Manifest => ({
  apiVersion: 'courier.dev/v1alpha1',
  kind: 'ToolConnection',
  metadata: { name: 'invalid-case' },
  spec: {
    provider: 'aws',
    aws: { authMethod: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/Scan', externalId: 'ext-id-1' },
  },
});

const validAccessKey = (): Manifest => ({
  ...validAssumeRole(),
  spec: { provider: 'aws', aws: { authMethod: 'accessKey' }, credentialsSecretRef: { name: 'key' } },
});

const validGeneric = (): Manifest => ({
  ...validAssumeRole(),
  spec: { provider: 'generic', generic: { purpose: 'ssh' }, credentialsSecretRef: { name: 'ssh-creds' } },
});

const validSchedule = (): Manifest => ({
  apiVersion: 'courier.dev/v1alpha1',
  kind: 'ScanSchedule',
  metadata: { name: 'invalid-case' },
  spec: {
    schedule: '0 3 * * *',
    connections: [{ name: 'prod-account' }],
    jobTemplate: {
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'scan', image: 'scanner:1' }] } } },
    },
  },
});

function withChange(base: () => Manifest, change: (m: Manifest) => void): Manifest {
  const manifest = base();
  change(manifest);
  return manifest;
}

// Each case: the object, and what the user must read in kubectl's error.
const INVALID: Array<[string, Manifest, string[]]> = [
  ['provider missing', withChange(validAssumeRole, (m) => delete m.spec.provider), ['spec.provider: Required value']],
  [
    'unknown provider',
    withChange(validAssumeRole, (m) => (m.spec.provider = 'azure')),
    ['spec.provider: Unsupported value: "azure"'],
  ],
  [
    'aws without spec.aws',
    withChange(validAssumeRole, (m) => delete m.spec.aws),
    ['spec.aws: Required value: provider aws needs spec.aws'],
  ],
  [
    'aws with spec.generic too',
    withChange(validAssumeRole, (m) => (m.spec.generic = { purpose: 'ssh' })),
    ['spec.aws: Required value: provider aws needs spec.aws and no spec.generic'],
  ],
  [
    'assumeRole without roleArn',
    withChange(validAssumeRole, (m) => delete m.spec.aws.roleArn),
    ['spec.aws.roleArn: Required value: authMethod assumeRole needs roleArn'],
  ],
  [
    'roleArn of a user, not a role',
    withChange(validAssumeRole, (m) => (m.spec.aws.roleArn = 'arn:aws:iam::123456789012:user/bob')),
    ['spec.aws.roleArn: Invalid value', 'roleArn must be an IAM role ARN'],
  ],
  [
    'externalId too short',
    withChange(validAssumeRole, (m) => (m.spec.aws.externalId = 'x')),
    ['spec.aws.externalId: Invalid value: "x"', 'at least 2 chars long'],
  ],
  [
    'externalId too long',
    withChange(validAssumeRole, (m) => (m.spec.aws.externalId = 'e'.repeat(1225))),
    ['spec.aws.externalId: Too long', '1224'],
  ],
  [
    'roleArn and accountId disagree',
    withChange(validAssumeRole, (m) => (m.spec.aws.accountId = '210987654321')),
    ['spec.aws.accountId: Invalid value', 'roleArn belongs to a different account than accountId'],
  ],
  [
    'accountId not 12 digits',
    withChange(validAssumeRole, (m) => (m.spec.aws.accountId = '1234')),
    ['spec.aws.accountId: Invalid value: "1234"'],
  ],
  [
    'session shorter than STS allows',
    withChange(validAssumeRole, (m) => (m.spec.aws.sessionDurationSeconds = 600)),
    ['spec.aws.sessionDurationSeconds: Invalid value: 600', 'greater than or equal to 900'],
  ],
  [
    'reserved session tag key',
    withChange(validAssumeRole, (m) => (m.spec.aws.sessionTags = { 'aws:team': 'x' })),
    ['spec.aws.sessionTags: Invalid value', 'must not start with courier: or aws:'],
  ],
  [
    'assumeRole with a credentials Secret',
    withChange(validAssumeRole, (m) => (m.spec.credentialsSecretRef = { name: 'x' })),
    ['spec.credentialsSecretRef: Forbidden: authMethod assumeRole stores nothing long-lived'],
  ],
  [
    'accessKey without credentialsSecretRef',
    withChange(validAccessKey, (m) => delete m.spec.credentialsSecretRef),
    ['spec.credentialsSecretRef: Required value: authMethod accessKey needs credentialsSecretRef'],
  ],
  [
    'accessKey with a roleArn',
    withChange(validAccessKey, (m) => (m.spec.aws.roleArn = 'arn:aws:iam::123456789012:role/Scan')),
    ['spec.aws: Forbidden: roleArn, externalId and sessionPolicy apply only to authMethod assumeRole'],
  ],
  [
    'allowLongLivedKey on assumeRole',
    withChange(validAssumeRole, (m) => (m.spec.aws.allowLongLivedKey = true)),
    ['spec.aws.allowLongLivedKey: Forbidden'],
  ],
  [
    'generic without credentialsSecretRef',
    withChange(validGeneric, (m) => delete m.spec.credentialsSecretRef),
    ['spec.credentialsSecretRef: Required value: provider generic needs credentialsSecretRef'],
  ],
  [
    'generic purpose not a name',
    withChange(validGeneric, (m) => (m.spec.generic.purpose = 'SSH!')),
    ['spec.generic.purpose: Invalid value', 'purpose must be a lower-case name'],
  ],
  [
    'generic port out of range',
    withChange(validGeneric, (m) => (m.spec.generic.port = 70000)),
    ['spec.generic.port: Invalid value: 70000'],
  ],
  [
    'service account name invalid',
    withChange(validGeneric, (m) => (m.spec.access = { serviceAccounts: ['Bad_Name'] })),
    ['spec.access.serviceAccounts[0]: Invalid value', 'lower-case DNS subdomains'],
  ],
  [
    'maxKeyAge in words',
    withChange(validAccessKey, (m) => (m.spec.rotation = { maxKeyAge: 'three months' })),
    ['spec.rotation.maxKeyAge: Invalid value', 'such as 90d or 2160h'],
  ],
  [
    'unknown deletionPolicy',
    withChange(validGeneric, (m) => (m.spec.credentialsSecretRef.deletionPolicy = 'Keep')),
    ['spec.credentialsSecretRef.deletionPolicy: Unsupported value: "Keep"'],
  ],
  [
    'validation every minute',
    withChange(validGeneric, (m) => (m.spec.validation = { interval: '1m' })),
    ['spec.validation.interval: Invalid value', 'at least 5m'],
  ],
  [
    'schedule with 4 fields',
    withChange(validSchedule, (m) => (m.spec.schedule = '0 3 * *')),
    ['spec.schedule: Invalid value', 'cron expression of 5 fields'],
  ],
  [
    'schedule minute 61',
    withChange(validSchedule, (m) => (m.spec.schedule = '61 3 * * *')),
    ['spec.schedule: Invalid value', 'the minute field (1st)'],
  ],
  [
    'schedule day-of-week 9',
    withChange(validSchedule, (m) => (m.spec.schedule = '0 3 * * 9')),
    ['spec.schedule: Invalid value', 'the day-of-week field (5th)'],
  ],
  [
    'schedule with CRON_TZ',
    withChange(validSchedule, (m) => (m.spec.schedule = 'CRON_TZ=UTC 0 3 * * *')),
    ['spec.schedule: Invalid value', 'set the time zone in spec.timeZone'],
  ],
  [
    'unknown @macro',
    withChange(validSchedule, (m) => (m.spec.schedule = '@every 5m')),
    ['spec.schedule: Invalid value', 'or one of @yearly'],
  ],
  [
    'timeZone Local',
    withChange(validSchedule, (m) => (m.spec.timeZone = 'Local')),
    ['spec.timeZone: Invalid value: "Local"', 'IANA time zone name'],
  ],
  [
    'timeZone with spaces',
    withChange(validSchedule, (m) => (m.spec.timeZone = 'Central Europe')),
    ['spec.timeZone: Invalid value', 'IANA time zone name'],
  ],
  [
    'negative history limit',
    withChange(validSchedule, (m) => (m.spec.successfulJobsHistoryLimit = -1)),
    ['spec.successfulJobsHistoryLimit: Invalid value: -1', 'greater than or equal to 0'],
  ],
  [
    'negative failed history limit',
    withChange(validSchedule, (m) => (m.spec.failedJobsHistoryLimit = -2)),
    ['spec.failedJobsHistoryLimit: Invalid value: -2'],
  ],
  [
    'negative starting deadline',
    withChange(validSchedule, (m) => (m.spec.startingDeadlineSeconds = -5)),
    ['spec.startingDeadlineSeconds: Invalid value: -5'],
  ],
  [
    'unknown concurrencyPolicy',
    withChange(validSchedule, (m) => (m.spec.concurrencyPolicy = 'Sometimes')),
    ['spec.concurrencyPolicy: Unsupported value: "Sometimes"'],
  ],
  [
    'no connections',
    withChange(validSchedule, (m) => (m.spec.connections = [])),
    ['spec.connections: Invalid value', 'at least 1 items'],
  ],
  [
    'two connections, one mountPath',
    withChange(
      validSchedule,
      (m) =>
        (m.spec.connections = [
          { name: 'a', mountPath: '/creds' },
          { name: 'b', mountPath: '/creds' },
        ]),
    ),
    ['spec.connections: Invalid value', 'each connection needs its own mountPath'],
  ],
  [
    'relative mountPath',
    withChange(validSchedule, (m) => (m.spec.connections[0].mountPath = 'creds')),
    ['spec.connections[0].mountPath: Invalid value', 'must be an absolute path'],
  ],
  [
    'mountPath escaping with ..',
    withChange(validSchedule, (m) => (m.spec.connections[0].mountPath = '/var/../etc')),
    ['spec.connections[0].mountPath: Invalid value', 'without ":" or ".."'],
  ],
  [
    'Job pod that restarts Always',
    withChange(validSchedule, (m) => (m.spec.jobTemplate.spec.template.spec.restartPolicy = 'Always')),
    ['spec.jobTemplate.spec.template.spec.restartPolicy: Invalid value', 'must be OnFailure or Never'],
  ],
  [
    'Job pod without containers',
    withChange(validSchedule, (m) => (m.spec.jobTemplate.spec.template.spec.containers = [])),
    ['spec.jobTemplate.spec.template.spec.containers: Invalid value', 'at least 1 items'],
  ],
  ['no jobTemplate', withChange(validSchedule, (m) => delete m.spec.jobTemplate), ['spec.jobTemplate: Required value']],
];

async function apply(namespace: string, manifest: Manifest) {
  return kubectl(['apply', '-n', namespace, '-f', '-'], { input: stringify(manifest), reject: false });
}

describe('CRDs on a real kube-apiserver', () => {
  let namespace: string;

  beforeAll(async () => {
    namespace = await createTestNamespace('crds');
  });

  it('applies every sample in config/samples', async () => {
    const samples = (await readdir(path.join(REPO_ROOT, 'config/samples'))).filter((f) => f.endsWith('.yaml'));
    expect(samples.length).toBeGreaterThanOrEqual(4);
    const result = await kubectl(['apply', '-n', namespace, '-f', path.join(REPO_ROOT, 'config/samples')]);
    expect(result.stdout).toContain('toolconnection.courier.dev/prod-account created');
    expect(result.stdout).toContain('toolconnection.courier.dev/legacy-account created');
    expect(result.stdout).toContain('toolconnection.courier.dev/bastion-ssh created');
    expect(result.stdout).toContain('scanschedule.courier.dev/nightly-compliance created');
  });

  it('shows printer columns, short names and the courier category', async () => {
    const tc = await kubectl(['get', 'tc', '-n', namespace]);
    const header = tc.stdout.split('\n')[0]?.split(/\s{2,}/);
    expect(header).toEqual(['NAME', 'PROVIDER', 'METHOD', 'READY', 'ACCOUNT', 'FINGERPRINT', 'AGE']);
    expect(tc.stdout).toMatch(/prod-account\s+aws\s+assumeRole/);

    const ss = await kubectl(['get', 'ss', '-n', namespace]);
    expect(ss.stdout.split('\n')[0]?.split(/\s{2,}/)).toEqual([
      'NAME',
      'SCHEDULE',
      'TIMEZONE',
      'SUSPEND',
      'READY',
      'LAST SCHEDULE',
      'NEXT RUN',
      'AGE',
    ]);
    expect(ss.stdout).toMatch(/nightly-compliance\s+30 2 \* \* \*\s+Europe\/Berlin\s+false/);

    const all = await kubectl(['get', 'courier', '-n', namespace, '-o', 'name']);
    expect(all.stdout.split('\n').sort()).toEqual([
      'scanschedule.courier.dev/nightly-compliance',
      'toolconnection.courier.dev/bastion-ssh',
      'toolconnection.courier.dev/legacy-account',
      'toolconnection.courier.dev/prod-account',
    ]);
  });

  it('fills in defaults', async () => {
    const tc = JSON.parse((await kubectl(['get', 'tc', 'prod-account', '-n', namespace, '-o', 'json'])).stdout);
    expect(tc.spec.aws.region).toBe('us-east-1');
    expect(tc.spec.aws.allowLongLivedKey).toBe(false);
    const key = JSON.parse((await kubectl(['get', 'tc', 'legacy-account', '-n', namespace, '-o', 'json'])).stdout);
    expect(key.spec.credentialsSecretRef.deletionPolicy).toBe('Delete');
    expect(key.spec.rotation.maxKeyAge).toBe('90d');
    const ss = JSON.parse((await kubectl(['get', 'ss', 'nightly-compliance', '-n', namespace, '-o', 'json'])).stdout);
    expect(ss.spec).toMatchObject({ suspend: false, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 });
  });

  it('accepts the valid base objects the invalid cases start from', async () => {
    for (const base of [validAssumeRole, validAccessKey, validGeneric, validSchedule]) {
      const result = await kubectl(['apply', '--dry-run=server', '-n', namespace, '-f', '-'], {
        input: stringify(base()),
      });
      expect(result.exitCode).toBe(0);
    }
  });

  it.each(INVALID)('rejects %s', async (_name, manifest, expected) => {
    const result = await apply(namespace, manifest);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain(`The ${manifest.kind} "invalid-case" is invalid`);
    for (const text of expected) expect(result.stderr).toContain(text);
    const get = await kubectl(['get', manifest.kind.toLowerCase(), 'invalid-case', '-n', namespace], { reject: false });
    expect(get.stderr).toContain('NotFound');
  });

  it('rejects changing the provider of an existing ToolConnection', async () => {
    const original = withChange(validAssumeRole, (m) => (m.metadata.name = 'immutable-provider'));
    expect((await apply(namespace, original)).exitCode).toBe(0);
    const changed = withChange(validGeneric, (m) => (m.metadata.name = 'immutable-provider'));
    const result = await kubectl(['replace', '-n', namespace, '-f', '-'], { input: stringify(changed), reject: false });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain('spec.provider: Invalid value');
    expect(result.stderr).toContain('provider is immutable: create a new ToolConnection instead');
  });
});
