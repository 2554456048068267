import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from '@jest/globals';
import { GcpSecretManagerStore, type GcpSecretManagerConfig } from '../../src/stores/gcp-secret-manager.ts';
import { startGcpSecretManagerEmulator, type GcpSecretManagerEmulatorPeer } from '../support/peers.ts';
import { freePort } from '../support/ports.ts';
import { describeStoreContract, type StoreUnderTest } from '../support/store-contract.ts';

let emulator: GcpSecretManagerEmulatorPeer;
let store: GcpSecretManagerStore;
let unreachable: GcpSecretManagerStore;
let subject: StoreUnderTest;

beforeAll(async () => {
  emulator = await startGcpSecretManagerEmulator();
  const config: GcpSecretManagerConfig = {
    project: `courier-${randomUUID().slice(0, 8)}`,
    prefix: 'courier_',
    endpoint: emulator.endpoint,
    insecure: true,
  };
  store = new GcpSecretManagerStore('gcp', config);
  unreachable = new GcpSecretManagerStore('gcp', { ...config, endpoint: `127.0.0.1:${await freePort()}` });
  subject = { store, unreachable };
});

afterAll(async () => {
  await store?.close();
  await unreachable?.close();
  await emulator?.stop();
});

describeStoreContract('gcp-secret-manager (emulator)', () => subject);
