// Properties of the broker's decision (Broker.handle) over generated requests:
// Authorization headers from junk to tokens with every kind of flaw (see
// test/support/arbitraries/tokens.ts and broker-requests.ts), bodies from good to nonsense, and
// tokens naming pods that are live, gone, finishing or not opted in. The
// verifier is the real one, reading a real JWKS over HTTP; the world it
// checks against is in memory (test/support/broker-world.ts). Every request
// gets the answer the broker's rule gives — the status and the stable
// reason — and only a flawless token for the live pod, asking for a Ready
// connection it may have, gets credentials. Case counts and replay: docs/fuzzing.md.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  authorization,
  authorizationHeader,
  expectedAnswer,
  requestBody,
} from '../../test/support/arbitraries/broker-requests.ts';
import { fuzzParameters, fuzzRuns, fuzzTimeout } from '../../test/support/arbitraries/runs.ts';
import { SERVICE_ACCOUNT, STORED_FIELDS, startBrokerWorld, type BrokerWorld } from '../../test/support/broker-world.ts';

const RUNS = fuzzRuns();
let world: BrokerWorld;

beforeAll(async () => {
  world = await startBrokerWorld();
});

afterAll(async () => {
  await world?.close();
});

describe('Broker.handle, on generated requests', () => {
  it(
    'answers each with the status and reason its rule gives; only a flawless token for the live pod gets credentials',
    async () => {
      const property = fc.asyncProperty(authorization, requestBody, async (auth, body) => {
        const answer = await world.broker.handle(authorizationHeader(auth, world), body, '127.0.0.1');
        const want = expectedAnswer(auth, body);
        expect({ status: answer.status }).toEqual({ status: want.status });
        if (want.status === 200) {
          const { connection } = body as { connection: string };
          expect(answer.body).toEqual({
            connection,
            kind: 'generic',
            generic: { purpose: 'ssh', host: 'bastion.example', fields: STORED_FIELDS },
          });
          return;
        }
        const refusal = answer.body as { code: number; reason: string; message: string };
        expect(refusal).toEqual({ code: want.status, reason: expect.any(String), message: expect.any(String) });
        expect(want.reasons).toContain(refusal.reason);
        expect(refusal.message).not.toBe('');
        // The only 5xx the broker gives by design: a connection not Ready yet, with a time to come back.
        if (answer.status >= 500) expect(answer.retryAfterSeconds).toBeGreaterThan(0);
      });
      await fc.assert(property, fuzzParameters(RUNS));
      expect(world.errors).toEqual([]);
      // Only a refused service account becomes an access request.
      expect(world.refusals.every((entry) => entry === `locked/${SERVICE_ACCOUNT}/ServiceAccountNotAllowed`)).toBe(
        true,
      );
    },
    fuzzTimeout(RUNS, 3),
  );
});
