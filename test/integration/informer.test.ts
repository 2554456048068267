// The informer against a real apiserver that restarts, and behind a proxy
// that silently freezes the watch connection: it keeps delivering events.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { ResilientInformer, type InformerEvent } from '../../src/controllers/runtime/informer.ts';
import { createLogger } from '../../src/log/logger.ts';
import { ControlPlane } from '../support/control-plane.ts';
import { startFreezableProxy, type FreezableProxy } from '../support/tcp-proxy.ts';

const NAMESPACE = 'informer';
let plane: ControlPlane;
let proxy: FreezableProxy;
let admin: CoreV1Api;
let informer: ResilientInformer<V1ConfigMap>;
const events: Array<[InformerEvent, string]> = [];

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms; events: ${JSON.stringify(events)}`);
    await sleep(50);
  }
}

const saw = (event: InformerEvent, name: string) => events.some(([e, n]) => e === event && n === name);
const configMap = (name: string) =>
  admin.createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name }, data: { v: '1' } } });

beforeAll(async () => {
  plane = await ControlPlane.start({ installCrds: false });
  admin = plane.kubeConfig().makeApiClient(CoreV1Api);
  await admin.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  proxy = await startFreezableProxy(Number(new URL(plane.server).port));
  // The informer reaches the apiserver only through the proxy.
  const direct = plane.kubeConfig();
  const proxied = new KubeConfig();
  proxied.loadFromOptions({
    clusters: direct.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${proxy.port}` })),
    users: direct.users,
    contexts: direct.contexts,
    currentContext: direct.currentContext,
  });
  const core = proxied.makeApiClient(CoreV1Api);
  informer = new ResilientInformer<V1ConfigMap>(
    proxied,
    {
      path: `/api/v1/namespaces/${NAMESPACE}/configmaps`,
      list: () => core.listNamespacedConfigMap({ namespace: NAMESPACE }),
      staleAfterMs: 2_000,
      restartBaseMs: 200,
    },
    createLogger({ level: 'error', component: 'informer-test' }),
  );
  informer.onChange((object, event) => events.push([event, object.metadata!.name!]));
  await informer.start();
});

afterAll(async () => {
  await informer?.stop();
  await proxy?.close();
  await plane?.stop();
});

describe('ResilientInformer', () => {
  it('finishes starting once a list succeeds, even when the first ones fail', async () => {
    // The CRD does not exist yet: lists fail with 404 until it is installed.
    const kc = plane.kubeConfig();
    const objects = kc.makeApiClient(CustomObjectsApi);
    const early = new ResilientInformer<KubernetesObject>(
      kc,
      {
        path: '/apis/courier.dev/v1alpha1/namespaces/default/toolconnections',
        list: () =>
          objects.listNamespacedCustomObject({
            group: 'courier.dev',
            version: 'v1alpha1',
            namespace: 'default',
            plural: 'toolconnections',
          }) as Promise<KubernetesListObject<KubernetesObject>>,
        staleAfterMs: 60_000,
        restartBaseMs: 100,
        restartMaxMs: 500,
      },
      createLogger({ level: 'error', component: 'informer-test' }),
    );
    let started = false;
    const starting = early.start().then(() => (started = true));
    await sleep(1_000);
    expect(started).toBe(false);
    expect(early.restarts).toBeGreaterThan(0);
    await plane.installCrds();
    await starting;
    await early.stop();
  });

  it('delivers adds, updates and deletes and keeps its cache', async () => {
    await configMap('first');
    await until(() => saw('add', 'first'), 5_000);
    await admin.patchNamespacedConfigMap({
      name: 'first',
      namespace: NAMESPACE,
      body: [{ op: 'replace', path: '/data/v', value: '2' }],
    });
    await until(() => saw('update', 'first'), 5_000);
    expect(informer.get('first', NAMESPACE)?.data).toEqual({ v: '2' });
    await admin.deleteNamespacedConfigMap({ name: 'first', namespace: NAMESPACE });
    await until(() => saw('delete', 'first'), 5_000);
    expect(informer.get('first', NAMESPACE)).toBeUndefined();
  });

  it('keeps delivering after the apiserver restarts', async () => {
    await plane.restartApiServer(1_000);
    await configMap('after-restart');
    await until(() => saw('add', 'after-restart'), 20_000);
  });

  it('relists when its watch goes silent, catching adds and deletes it missed', async () => {
    await configMap('doomed');
    await until(() => saw('add', 'doomed'), 5_000);
    const restartsBefore = informer.restarts;
    events.length = 0;
    proxy.freezeOpenConnections();
    await configMap('while-silent');
    await admin.deleteNamespacedConfigMap({ name: 'doomed', namespace: NAMESPACE });
    await until(() => saw('add', 'while-silent') && saw('delete', 'doomed'), 15_000);
    expect(informer.restarts).toBeGreaterThan(restartsBefore);
    expect(
      informer
        .list(NAMESPACE)
        .map((c) => c.metadata!.name)
        .sort(),
    ).toEqual(['after-restart', 'while-silent']);
  });
});
