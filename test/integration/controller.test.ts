// The controller runner on a real apiserver: informer events reach the
// reconciler, failures retry with backoff, requeueAfter brings a key back,
// one key is never reconciled twice at once, and stopping ends the workers.
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { CustomObjectsApi, type KubernetesListObject } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import type { ToolConnection } from '../../src/api/v1alpha1/index.ts';
import { Controller, ControllerMetrics, type ObjectKey } from '../../src/controllers/runtime/controller.ts';
import { ResilientInformer } from '../../src/controllers/runtime/informer.ts';
import { createLogger } from '../../src/log/logger.ts';
import { until } from '../support/wait.ts';
import { createTestNamespace, kubectl, testKubeConfig } from '../support/cluster.ts';

let namespace: string;

beforeAll(async () => {
  namespace = await createTestNamespace('controller');
});

const connection = (name: string) =>
  stringify({
    apiVersion: 'courier.dev/v1alpha1',
    kind: 'ToolConnection',
    metadata: { name, namespace },
    spec: { provider: 'generic', generic: { purpose: 'ssh' }, credentialsSecretRef: { name: `${name}-src` } },
  });

describe('Controller', () => {
  it('reconciles on events, retries failures with backoff, requeues on request, never overlaps a key', async () => {
    const kc = testKubeConfig();
    const api = kc.makeApiClient(CustomObjectsApi);
    const logger = createLogger({ level: 'error', component: 'controller-test' });
    const informer = new ResilientInformer<ToolConnection>(
      kc,
      {
        path: `/apis/courier.dev/v1alpha1/namespaces/${namespace}/toolconnections`,
        list: () =>
          api.listNamespacedCustomObject({
            group: 'courier.dev',
            version: 'v1alpha1',
            namespace,
            plural: 'toolconnections',
          }) as Promise<KubernetesListObject<ToolConnection>>,
        staleAfterMs: 60_000,
      },
      logger,
    );
    const calls: Array<{ key: ObjectKey; at: number }> = [];
    const active = new Set<ObjectKey>();
    let overlaps = 0;
    let flakyFailures = 0;
    const controller = new Controller<ToolConnection>({
      name: 'test',
      informer,
      workers: 4,
      resyncMs: 60_000,
      logger,
      metrics: new ControllerMetrics(new Registry()),
      reconciler: {
        async reconcile(key) {
          if (active.has(key)) overlaps++;
          active.add(key);
          calls.push({ key, at: Date.now() });
          await sleep(30);
          active.delete(key);
          if (key.endsWith('/flaky') && flakyFailures < 3) {
            flakyFailures++;
            throw new Error('store unavailable');
          }
          return key.endsWith('/periodic') ? { requeueAfterMs: 200 } : {};
        },
      },
    });
    const stop = new AbortController();
    const running = controller.run(stop.signal);

    await kubectl(['apply', '-f', '-'], {
      input: [connection('steady'), connection('flaky'), connection('periodic')].join('---\n'),
    });
    const count = (name: string) => calls.filter((c) => c.key === `${namespace}/${name}`).length;
    await until(() => count('steady') >= 1 && count('flaky') >= 4 && count('periodic') >= 3, 10_000);

    // Backoff: the gaps between the flaky key's attempts grow.
    const flaky = calls.filter((c) => c.key === `${namespace}/flaky`).map((c) => c.at);
    const gaps = flaky.slice(1, 4).map((at, i) => at - flaky[i]!);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);

    // Many updates to one object while it is being reconciled: never two at once.
    for (let i = 0; i < 5; i++) {
      await kubectl(['annotate', 'tc', 'steady', '-n', namespace, `courier.dev/test=${i}`, '--overwrite']);
    }
    await sleep(500);
    expect(overlaps).toBe(0);
    expect(count('steady')).toBeGreaterThanOrEqual(2);
    expect(count('steady')).toBeLessThanOrEqual(6);

    stop.abort();
    await running;
    const settled = calls.length;
    await sleep(400);
    expect(calls.length).toBe(settled);
  });
});
