import { describe, expect, it } from '@jest/globals';
import type { ScanSchedule, ToolConnection } from '../../api/v1alpha1/index.ts';
import { renderStatus } from './status.ts';

const now = new Date('2025-06-01T12:00:00Z');
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000).toISOString();
const condition = (type: string, status: string, reason: string, message: string, observedGeneration = 1) => ({
  type,
  status,
  reason,
  message,
  observedGeneration,
  lastTransitionTime: new Date(minutesAgo(10)),
});

const connections: ToolConnection[] = [
  {
    apiVersion: 'courier.dev/v1alpha1',
    kind: 'ToolConnection',
    metadata: { name: 'prod-account', namespace: 'team', generation: 1, creationTimestamp: new Date(minutesAgo(600)) },
    spec: { provider: 'aws', aws: { authMethod: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/A' } },
    status: {
      conditions: [condition('Ready', 'True', 'Ready', 'stored and validated')],
      issuedCount: 12,
      lastIssuedTime: minutesAgo(3),
    },
  },
  {
    apiVersion: 'courier.dev/v1alpha1',
    kind: 'ToolConnection',
    metadata: {
      name: 'legacy',
      namespace: 'team',
      generation: 2,
      creationTimestamp: new Date(minutesAgo(60 * 24 * 100)),
    },
    spec: { provider: 'aws', aws: { authMethod: 'accessKey' }, credentialsSecretRef: { name: 'legacy-credentials' } },
    status: {
      store: 'kubernetes',
      conditions: [
        condition('Ready', 'False', 'InvalidClientTokenId', 'Validated: the key was not accepted', 2),
        condition('RotationDue', 'True', 'KeyTooOld', 'the access key is older than 90d', 2),
        condition('Stored', 'True', 'Stored', 'version 1 in store kubernetes', 2),
        condition('Validated', 'False', 'InvalidClientTokenId', 'the key was not accepted', 1),
      ],
      accessRequests: [
        {
          serviceAccount: 'intruder',
          count: 3,
          firstTime: minutesAgo(30),
          lastTime: minutesAgo(5),
          reason: 'not in spec.access.serviceAccounts',
        },
      ],
    },
  },
];

const schedules: ScanSchedule[] = [
  {
    apiVersion: 'courier.dev/v1alpha1',
    kind: 'ScanSchedule',
    metadata: { name: 'nightly', namespace: 'team', generation: 1, creationTimestamp: new Date(minutesAgo(600)) },
    spec: {
      schedule: '30 2 * * *',
      timeZone: 'Europe/Berlin',
      connections: [{ name: 'prod-account' }],
      jobTemplate: { spec: { template: {} } },
    },
    status: {
      lastScheduleTime: minutesAgo(540),
      nextScheduleTime: new Date(now.getTime() + 14 * 3_600_000).toISOString(),
      active: [{ name: 'nightly-29000000' }],
      missedRuns: 2,
      conditions: [
        condition('Ready', 'True', 'Scheduled', 'next run …'),
        condition(
          'RunSkipped',
          'True',
          'ConnectionNotReady',
          'run nightly-now-abc skipped: ToolConnection legacy missing or not Ready',
        ),
      ],
    },
  },
];

describe('renderStatus', () => {
  it('shows both kinds as tables, then what needs a look, with full messages', () => {
    expect(renderStatus(connections, schedules, { allNamespaces: false, namespace: 'team', now })).toBe(
      [
        'TOOLCONNECTION   PROVIDER         STORE        READY   REASON                 ISSUED   LAST ISSUED   AGE',
        'legacy           aws/accessKey    kubernetes   False   InvalidClientTokenId   0        <never>       100d',
        'prod-account     aws/assumeRole   -            True    Ready                  12       3m            10h',
        '',
        'SCANSCHEDULE   SCHEDULE                   SUSPEND   READY   ACTIVE   LAST SCHEDULE   LAST SUCCESS   NEXT RUN   AGE',
        'nightly        30 2 * * * Europe/Berlin   False     True    1        9h              <never>        in 14h     10h',
        '',
        'toolconnection/legacy: RotationDue=True (KeyTooOld): the access key is older than 90d',
        'toolconnection/legacy: Validated=False (InvalidClientTokenId) (from an older generation): the key was not accepted',
        'toolconnection/legacy: service account intruder was refused 3 time(s), last 5m ago (not in spec.access.serviceAccounts); add it to spec.access.serviceAccounts to grant it',
        'scanschedule/nightly: RunSkipped=True (ConnectionNotReady): run nightly-now-abc skipped: ToolConnection legacy missing or not Ready',
        'scanschedule/nightly: 2 scheduled run(s) missed (past startingDeadlineSeconds or while no manager ran)',
        '',
      ].join('\n'),
    );
  });

  it('adds a NAMESPACE column for every namespace, and says when there is nothing', () => {
    const text = renderStatus([connections[0]!], [], { allNamespaces: true, namespace: 'ignored', now });
    expect(text.split('\n')[0]).toMatch(/^NAMESPACE {3}TOOLCONNECTION/);
    expect(text.split('\n')[1]).toMatch(/^team {8}prod-account/);
    expect(text).toContain('No ScanSchedules in any namespace.');
    expect(renderStatus([], [], { allNamespaces: false, namespace: 'empty', now })).toBe(
      'No ToolConnections in namespace empty.\n\nNo ScanSchedules in namespace empty.\n',
    );
  });

  it('says when an object has no status at all', () => {
    const bare = { ...connections[0]!, status: undefined };
    expect(renderStatus([bare], [], { allNamespaces: false, namespace: 'team', now })).toContain(
      'toolconnection/prod-account: no conditions yet (is the Courier manager running?)',
    );
  });
});
