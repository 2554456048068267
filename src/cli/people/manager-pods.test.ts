import { describe, expect, it } from '@jest/globals';
import { V1MicroTime, type V1Lease, type V1Pod } from '@kubernetes/client-node';
import { chooseManagerPod, healthPort, leaderOf, managerContainer, podOfHolder, type Leader } from './manager-pods.ts';

const now = new Date('2025-06-01T12:00:00Z');

function lease(holder: string, renewedSecondsAgo: number, duration = 15): V1Lease {
  return {
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: duration,
      acquireTime: new V1MicroTime(now.getTime() - 3_600_000),
      renewTime: new V1MicroTime(now.getTime() - renewedSecondsAgo * 1000),
    },
  };
}

function pod(name: string, ready: boolean, extra: Partial<V1Pod> = {}): V1Pod {
  return {
    metadata: { name },
    spec: { containers: [{ name: 'manager', image: 'courier' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
    ...extra,
  };
}

describe('the leader', () => {
  it('is named by the pod part of the holder identity', () => {
    expect(podOfHolder('courier-manager-6d5f7c9b8-x2x7q_1a2b3c4d')).toBe('courier-manager-6d5f7c9b8-x2x7q');
    expect(podOfHolder('my_host_0123abcd')).toBe('my_host');
    expect(podOfHolder('someone-else')).toBeUndefined();
  });

  it('is current while the Lease is renewed within its duration', () => {
    expect(leaderOf(lease('pod-a_0123abcd', 2), now)).toMatchObject({
      holder: 'pod-a_0123abcd',
      podName: 'pod-a',
      expired: false,
    });
    expect(leaderOf(lease('pod-a_0123abcd', 16), now).expired).toBe(true);
    // A released Lease: a clean shutdown empties the holder.
    expect(leaderOf(lease('', 0, 1), now).expired).toBe(true);
  });
});

describe('chooseManagerPod', () => {
  const live: Leader = { holder: 'b_0123abcd', podName: 'b', leaseDurationSeconds: 15, expired: false };
  it("prefers the leader's pod", () => {
    expect(chooseManagerPod(live, [pod('a', true), pod('b', true)])).toMatchObject({
      pod: { metadata: { name: 'b' } },
      why: 'the leader',
    });
  });

  it('falls back to a ready replica, and says why', () => {
    const expired = { ...live, expired: true };
    expect(chooseManagerPod(expired, [pod('c', true), pod('a', false), pod('b', true)])).toMatchObject({
      pod: { metadata: { name: 'b' } },
      why: 'a ready replica (no current leader)',
    });
    expect(chooseManagerPod(undefined, [pod('a', false)])).toBeUndefined();
  });
});

describe('pod details', () => {
  it('finds the health port from the readiness probe, by number or by name', () => {
    const probed = (port: number | string, ports?: Array<{ name: string; containerPort: number }>) =>
      pod('p', true, {
        spec: {
          containers: [
            { name: 'manager', readinessProbe: { httpGet: { path: '/readyz', port } }, ...(ports ? { ports } : {}) },
          ],
        },
      });
    expect(healthPort(probed(9091))).toBe(9091);
    expect(healthPort(probed('health', [{ name: 'health', containerPort: 8181 }]))).toBe(8181);
    expect(healthPort(pod('p', true))).toBe(8081);
  });

  it('execs into the container asked for, else the default-container annotation, else the first', () => {
    const annotated = pod('p', true, {
      metadata: { name: 'p', annotations: { 'kubectl.kubernetes.io/default-container': 'courier' } },
    });
    expect(managerContainer(annotated)).toBe('courier');
    expect(managerContainer(annotated, 'other')).toBe('other');
    expect(managerContainer(pod('p', true))).toBe('manager');
  });
});
