// The token verifier against a real JWKS served over HTTP (test/support/broker-world.ts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mintToken, type TokenPlan } from '../../test/support/arbitraries/tokens.ts';
import { PODS, SERVICE_ACCOUNT, TENANT, startBrokerWorld, type BrokerWorld } from '../../test/support/broker-world.ts';

let world: BrokerWorld;

beforeAll(async () => {
  world = await startBrokerWorld();
});

afterAll(async () => {
  await world?.close();
});

function bearer(plan: Partial<TokenPlan>): string {
  const token = mintToken(
    {
      algorithm: 'ES256',
      withKid: true,
      audienceList: false,
      lifetimeSeconds: 600,
      defects: [],
      extraHeader: {},
      extraClaims: {},
      ...plan,
    },
    {
      issuer: world.issuer,
      audience: world.audience,
      namespace: TENANT,
      serviceAccount: SERVICE_ACCOUNT,
      podName: 'live',
      podUid: PODS.live.uid,
    },
    world.keys,
    Math.floor(Date.now() / 1000),
  );
  return `Bearer ${token}`;
}

describe('ServiceAccountTokenVerifier', () => {
  it('accepts a token signed by the cluster for the live pod', async () => {
    const answer = await world.broker.handle(bearer({}), { connection: 'github' });
    expect(answer.status).toBe(200);
  });

  // Found by broker.property.test.ts: a pod name of ["live"] read as "live" and got credentials.
  it('refuses a signed token whose pod name is not a string', async () => {
    const answer = await world.broker.handle(bearer({ defects: ['podNameNotAString'] }), { connection: 'github' });
    expect(answer).toMatchObject({ status: 401, body: { reason: 'NotPodBound' } });
  });
});
