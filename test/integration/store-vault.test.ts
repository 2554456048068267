import { writeFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';
import { VaultStore, type VaultConfig } from '../../src/stores/vault.ts';
import { startOpenBao, type OpenBaoPeer } from '../support/peers.ts';
import { freePort } from '../support/ports.ts';
import { describeStoreContract, type StoreUnderTest } from '../support/store-contract.ts';

let bao: OpenBaoPeer;
let subject: StoreUnderTest;

beforeAll(async () => {
  bao = await startOpenBao();
  const tokenFile = path.join(await mkdtemp(path.join(os.tmpdir(), 'courier-vault-')), 'token');
  await writeFile(tokenFile, bao.rootToken, { mode: 0o600 });
  const config: VaultConfig = {
    address: bao.endpoint,
    mount: 'secret',
    pathPrefix: 'courier',
    auth: { method: 'token', tokenFile },
  };
  subject = {
    store: new VaultStore('vault', config),
    unreachable: new VaultStore('vault', { ...config, address: `http://127.0.0.1:${await freePort()}` }),
  };
});

afterAll(() => bao?.stop());

describeStoreContract('vault (OpenBao)', () => subject);
