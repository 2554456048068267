// Leader election on a real Lease: one leader at a time, a clean stop hands
// over at once, and a vanished leader is replaced once its lease expires.
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import { LeaderElector } from '../../src/controllers/runtime/leader-election.ts';
import { createLogger } from '../../src/log/logger.ts';
import { until } from '../support/wait.ts';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';

const TIMING = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 250 };
const logger = createLogger({ level: 'warn', component: 'leader-election-test' });
let namespace: string;

beforeAll(async () => {
  namespace = await createTestNamespace('leader');
});

/** Runs a candidate, recording when it leads. */
function candidate(lease: string, identity: string) {
  const stop = new AbortController();
  const state = { leading: false, ledAt: 0, leaders: [] as string[] };
  const elector = new LeaderElector(testKubeConfig(), { namespace, name: lease, identity, ...TIMING }, logger);
  const done = elector.run(
    {
      onStartedLeading: () => {
        state.leading = true;
        state.ledAt = Date.now();
      },
      onStoppedLeading: () => {
        state.leading = false;
      },
      onNewLeader: (leader) => state.leaders.push(leader),
    },
    stop.signal,
  );
  return { state, stop: () => (stop.abort(), done) };
}

describe('leader election', () => {
  it('elects one leader, and hands over at once when the leader stops cleanly', async () => {
    const a = candidate('handover', 'replica-a');
    await until(() => a.state.leading, 5_000);
    const b = candidate('handover', 'replica-b');
    await until(() => b.state.leaders.includes('replica-a'), 5_000);
    // B keeps following while A renews, well past one lease duration.
    await sleep(TIMING.leaseDurationMs * 2);
    expect([a.state.leading, b.state.leading]).toEqual([true, false]);

    const stoppedAt = Date.now();
    await a.stop();
    expect(a.state.leading).toBe(false);
    await until(() => b.state.leading, 5_000);
    // Released, not expired: the follower needs about one retry period.
    expect(b.state.ledAt - stoppedAt).toBeLessThan(TIMING.leaseDurationMs);
    await b.stop();
  });

  it('replaces a leader that vanished once its lease has expired', async () => {
    const api = testKubeConfig().makeApiClient(CoordinationV1Api);
    const now = new V1MicroTime(Date.now());
    await api.createNamespacedLease({
      namespace,
      body: {
        metadata: { name: 'crashed' },
        spec: {
          holderIdentity: 'crashed-replica',
          leaseDurationSeconds: 2,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: 0,
        },
      },
    });
    const started = Date.now();
    const c = candidate('crashed', 'replica-c');
    await until(() => c.state.leading, 10_000);
    const waited = c.state.ledAt - started;
    expect(waited).toBeGreaterThanOrEqual(TIMING.leaseDurationMs);
    expect(waited).toBeLessThan(TIMING.leaseDurationMs + 4 * TIMING.retryPeriodMs + 1_000);
    const lease = await api.readNamespacedLease({ name: 'crashed', namespace });
    expect(lease.spec).toMatchObject({ holderIdentity: 'replica-c', leaseTransitions: 1 });
    await c.stop();
  });
});
