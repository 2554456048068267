import { afterAll, beforeAll } from '@jest/globals';
import { AwsSecretsManagerStore, type AwsSecretsManagerConfig } from '../../src/stores/aws-secrets-manager.ts';
import { startMoto, type MotoPeer } from '../support/peers.ts';
import { freePort } from '../support/ports.ts';
import { describeStoreContract, type StoreUnderTest } from '../support/store-contract.ts';

let moto: MotoPeer;
let subject: StoreUnderTest;

beforeAll(async () => {
  moto = await startMoto();
  const config: AwsSecretsManagerConfig = {
    region: moto.region,
    endpoint: moto.endpoint,
    credentials: moto.credentials,
    prefix: 'courier/',
    recoveryWindowDays: 0,
  };
  subject = {
    store: new AwsSecretsManagerStore('aws', config),
    unreachable: new AwsSecretsManagerStore('aws', { ...config, endpoint: `http://127.0.0.1:${await freePort()}` }),
  };
});

afterAll(() => moto?.stop());

describeStoreContract('aws-secrets-manager (moto)', () => subject);
