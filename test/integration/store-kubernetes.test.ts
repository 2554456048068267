import { beforeAll } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesStore } from '../../src/stores/kubernetes.ts';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';
import { freePort } from '../support/ports.ts';
import { describeStoreContract, type StoreUnderTest } from '../support/store-contract.ts';

let subject: StoreUnderTest;

beforeAll(async () => {
  const namespace = await createTestNamespace('store-k8s');
  const kc = testKubeConfig();
  // The same identity, pointed at a port where no apiserver listens.
  const deadServer = `https://127.0.0.1:${await freePort()}`;
  const dead = new KubeConfig();
  dead.loadFromOptions({
    clusters: kc.clusters.map((cluster) => ({ ...cluster, server: deadServer })),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  subject = {
    store: new KubernetesStore('in-cluster', kc, { namespace }),
    unreachable: new KubernetesStore('in-cluster', dead, { namespace }),
  };
});

describeStoreContract('kubernetes', () => subject);
