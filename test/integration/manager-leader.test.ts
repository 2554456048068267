// Several `courier manager` processes with --leader-elect on a real
// apiserver: one leads and reconciles; when it stops, or is killed, another
// takes over within 20 s and reconciling goes on.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestNamespace, kubectl } from '../support/cluster.ts';
import { MANAGER_EPHEMERAL, type RunningComponent } from '../support/component.ts';
import { start } from '../support/started-components.ts';
import { stringify } from 'yaml';
import { writeMotoStsConfig } from '../support/courier-setup.ts';
import { startMoto, type MotoPeer } from '../support/peers.ts';

const TAKEOVER_LIMIT_MS = 20_000;
let moto: MotoPeer;
let courierNamespace: string;
let tenant: string;
let configFile: string;

beforeAll(async () => {
  moto = await startMoto();
  courierNamespace = await createTestNamespace('courier');
  tenant = await createTestNamespace('team');
  configFile = await writeMotoStsConfig(await mkdtemp(path.join(os.tmpdir(), 'courier-leader-')), moto);
});

afterAll(() => moto?.stop());

function manager(): RunningComponent {
  return start([
    'manager',
    ...MANAGER_EPHEMERAL,
    '--kubeconfig',
    process.env.COURIER_TEST_KUBECONFIG!,
    '--namespace',
    courierNamespace,
    '--watch-namespace',
    tenant,
    '--config',
    configFile,
    '--leader-elect',
    '--shutdown-timeout',
    '10s',
  ]);
}

const isLeader = (m: RunningComponent) => m.records.some((r) => r.msg === 'became the leader');

async function leaderAmong(managers: RunningComponent[], timeoutMs: number): Promise<RunningComponent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leaders = managers.filter(isLeader);
    if (leaders.length === 1) return leaders[0]!;
    expect(leaders.length).toBeLessThanOrEqual(1);
    if (Date.now() > deadline) throw new Error('no leader in time');
    await sleep(100);
  }
}

async function connectionBecomesReady(name: string): Promise<void> {
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const manifests = [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-src` }, stringData: { username: 'u', password } },
    {
      apiVersion: 'courier.dev/v1alpha1',
      kind: 'ToolConnection',
      metadata: { name },
      spec: { provider: 'generic', generic: { purpose: 'ssh' }, credentialsSecretRef: { name: `${name}-src` } },
    },
  ];
  await kubectl(['apply', '-n', tenant, '-f', '-'], { input: manifests.map((m) => stringify(m)).join('---\n') });
  await kubectl(['wait', '-n', tenant, `tc/${name}`, '--for=condition=Ready', '--timeout=30s']);
}

describe('manager leader election', () => {
  it('lets one replica reconcile and hands over when it stops or dies', async () => {
    const first = manager();
    const second = manager();
    const leader = await leaderAmong([first, second], 20_000);
    const follower = leader === first ? second : first;
    await follower.waitForLog('following the leader');
    await connectionBecomesReady('one');
    expect(follower.records.some((r) => r.msg === 'validated')).toBe(false);

    // The leader's /metrics counts what it did.
    const { metricsAddress } = await leader.waitForLog('serving metrics and health probes');
    const metrics = await (await fetch(`http://${metricsAddress as string}/metrics`)).text();
    expect(metrics).toMatch(/courier_validations_total\{provider="generic",result="True"\} [1-9]/);
    expect(metrics).toMatch(/courier_store_operations_total\{store="kubernetes",operation="put",outcome="ok"\} [1-9]/);
    expect(metrics).toMatch(
      /courier_reconcile_duration_seconds_count\{controller="toolconnection",outcome="[a-z]+"\} [1-9]/,
    );
    // An audit record for the stored credential, without its value.
    const audit = leader.records.find((r) => r.audit === true && r.action === 'credential.stored');
    expect(audit).toMatchObject({ namespace: tenant, toolConnection: 'one', store: 'kubernetes', version: '1' });

    // A clean stop releases the Lease.
    const stoppedAt = Date.now();
    leader.child.kill('SIGTERM');
    expect(await leader.exitCode()).toBe(0);
    await follower.waitForLog('became the leader');
    const handover = Date.now() - stoppedAt;
    expect(handover).toBeLessThan(TAKEOVER_LIMIT_MS);
    await connectionBecomesReady('two');

    // A killed leader's Lease must expire first.
    const third = manager();
    await third.waitForLog('following the leader');
    const killedAt = Date.now();
    follower.child.kill('SIGKILL');
    await third.waitForLog('became the leader');
    const takeover = Date.now() - killedAt;
    expect(takeover).toBeLessThan(TAKEOVER_LIMIT_MS);
    await connectionBecomesReady('three');

    // The leader also runs ScanSchedules: run-now creates the Job once.
    const schedule = {
      apiVersion: 'courier.dev/v1alpha1',
      kind: 'ScanSchedule',
      metadata: { name: 'nightly', annotations: { 'courier.dev/run-now': 'token-1' } },
      spec: {
        schedule: '0 3 * * *',
        connections: [{ name: 'three' }],
        jobTemplate: {
          spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'scan', image: 'scanner:1' }] } } },
        },
      },
    };
    await kubectl(['apply', '-n', tenant, '-f', '-'], { input: stringify(schedule) });
    let jobs: string[] = [];
    for (let i = 0; i < 100 && jobs.length === 0; i++) {
      jobs = (
        await kubectl(['get', 'jobs', '-n', tenant, '-l', 'courier.dev/scan-schedule=nightly', '-o', 'name'])
      ).stdout
        .split('\n')
        .filter(Boolean);
      if (jobs.length === 0) await sleep(100);
    }
    expect(jobs).toHaveLength(1);
    await kubectl(['wait', '-n', tenant, 'ss/nightly', '--for=condition=Ready', '--timeout=30s']);
    process.stdout.write(`leader handover after SIGTERM: ${handover} ms; takeover after SIGKILL: ${takeover} ms\n`);
    third.child.kill('SIGTERM');
    expect(await third.exitCode()).toBe(0);
  }, 120_000);
});
