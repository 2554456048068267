// Properties of the broker's decision (Broker.handle) over generated requests:
// Authorization headers from junk to tokens with every kind of flaw (see
// test/support/arbitraries/tokens.ts), bodies from good to nonsense, and
// tokens naming pods that are live, gone, finishing or not opted in. The
// verifier is the real one, reading a real JWKS over HTTP; the world it
// checks against is in memory (test/support/broker-world.ts). Every request
// gets the answer the broker's rule gives — the status and the stable
// reason — and only a flawless token for the live pod, asking for a Ready
// connection it may have, gets credentials. Case counts and replay: docs/fuzzing.md.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { dnsLabel, anyJson, hostileString } from '../../test/support/arbitraries/json.ts';
import { fuzzParameters, fuzzRuns, fuzzTimeout } from '../../test/support/arbitraries/runs.ts';
import {
  junkAuthorization,
  mintToken,
  tokenPlan,
  type TokenDefect,
  type TokenPlan,
} from '../../test/support/arbitraries/tokens.ts';
import {
  CONNECTIONS,
  OTHER_SERVICE_ACCOUNT,
  PODS,
  SERVICE_ACCOUNT,
  STORED_FIELDS,
  TENANT,
  startBrokerWorld,
  type BrokerWorld,
} from '../../test/support/broker-world.ts';

const RUNS = fuzzRuns();
let world: BrokerWorld;

beforeAll(async () => {
  world = await startBrokerWorld();
});

afterAll(async () => {
  await world?.close();
});

/** The refusal each token flaw causes. Several flaws: the first one checked decides, so any of theirs. */
const DEFECT_REASONS: Record<TokenDefect, string> = {
  wrongIssuer: 'WrongIssuer',
  noIssuer: 'WrongIssuer',
  wrongAudience: 'WrongAudience',
  noAudience: 'WrongAudience',
  expired: 'TokenExpired',
  noExpiry: 'TokenInvalid',
  expiryNotANumber: 'TokenInvalid',
  notYetValid: 'TokenInvalid',
  issuedAtNotANumber: 'TokenInvalid',
  noSubject: 'TokenInvalid',
  subjectOfAnotherAccount: 'TokenInvalid',
  noKubernetesClaims: 'NotServiceAccountToken',
  noNamespace: 'NotServiceAccountToken',
  noServiceAccount: 'NotServiceAccountToken',
  noPod: 'NotPodBound',
  noPodUid: 'NotPodBound',
  podNameNotAString: 'NotPodBound',
  claimsNotAnObject: 'TokenInvalid',
  critHeader: 'TokenInvalid',
  foreignKeySameKid: 'TokenInvalid',
  foreignKeyOtherKid: 'TokenInvalid',
  hmacWithPublicKey: 'TokenInvalid',
  algNone: 'TokenInvalid',
  algMismatch: 'TokenInvalid',
  tamperedClaims: 'TokenInvalid',
  truncated: 'TokenInvalid',
};

/** Who a well-signed token names: mostly the live pod as its own service account. */
interface Subject {
  namespace: string;
  serviceAccount: string;
  podName: string;
  /** The pod's real uid, or another one (a pod recreated under the same name). */
  podUid: string;
}

const podOf = (name: string) => (Object.hasOwn(PODS, name) ? PODS[name as keyof typeof PODS] : undefined);

const subject: fc.Arbitrary<Subject> = fc
  .record({
    namespace: fc.oneof({ arbitrary: fc.constant(TENANT), weight: 12 }, { arbitrary: fc.constant('other'), weight: 1 }),
    serviceAccount: fc.oneof(
      { arbitrary: fc.constant(SERVICE_ACCOUNT), weight: 12 },
      { arbitrary: fc.constant(OTHER_SERVICE_ACCOUNT), weight: 1 },
    ),
    podName: fc.oneof(
      { arbitrary: fc.constant('live'), weight: 12 },
      { arbitrary: fc.constantFrom(...Object.keys(PODS)), weight: 3 },
      { arbitrary: dnsLabel(), weight: 1 },
    ),
    uidMatches: fc.oneof({ arbitrary: fc.constant(true), weight: 12 }, { arbitrary: fc.constant(false), weight: 1 }),
    otherUid: fc.uuid(),
  })
  .map(({ uidMatches, otherUid, ...named }) => ({
    ...named,
    podUid: (uidMatches ? podOf(named.podName)?.uid : undefined) ?? otherUid,
  }));

type Authorization = { token: TokenPlan; subject: Subject } | { header: string | undefined };

const authorization: fc.Arbitrary<Authorization> = fc.oneof(
  { arbitrary: fc.record({ token: tokenPlan(), subject }), weight: 8 },
  { arbitrary: fc.record({ header: junkAuthorization() }), weight: 1 },
);

const connectionName = fc.oneof(
  { arbitrary: fc.constantFrom(...Object.keys(CONNECTIONS)), weight: 8 },
  { arbitrary: dnsLabel(), weight: 1 },
);

const body: fc.Arbitrary<unknown> = fc.oneof(
  {
    arbitrary: fc.record(
      { connection: connectionName, durationSeconds: fc.integer({ min: 900, max: 43_200 }) },
      { requiredKeys: ['connection'] },
    ),
    weight: 10,
  },
  {
    arbitrary: fc.oneof(
      anyJson(),
      fc.record({ connection: hostileString() }),
      fc.record({ connection: connectionName, role: anyJson(1) }),
      fc.record({
        connection: connectionName,
        durationSeconds: fc.oneof(
          fc.constantFrom(899, 43_201, 1800.5, '1800', null, -1, 0),
          fc.double({ noNaN: true }),
          anyJson(1),
        ),
      }),
      fc.constant({ connection: 'a'.repeat(254) }),
    ),
    weight: 2,
  },
);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The request body's rule, as docs/delivery.md states it. */
function validBody(value: unknown): value is { connection: string; durationSeconds?: number } {
  if (!isObject(value)) return false;
  if (Object.keys(value).some((key) => key !== 'connection' && key !== 'durationSeconds')) return false;
  const { connection, durationSeconds } = value;
  if (typeof connection !== 'string' || connection.length > 253 || !DNS_SUBDOMAIN.test(connection)) return false;
  return (
    durationSeconds === undefined ||
    (typeof durationSeconds === 'number' &&
      Number.isInteger(durationSeconds) &&
      durationSeconds >= 900 &&
      durationSeconds <= 43_200)
  );
}

interface Expected {
  status: number;
  /** Any of these (several flaws), or none for 200. */
  reasons: string[];
}

const OPTED_IN = ['github', 'ssh', 'not-ready', 'locked', 'no-such-connection'];

/** The broker's rule: token → body → live pod → opt-in → ToolConnection. */
function expected(auth: Authorization, requestBody: unknown): Expected {
  if ('header' in auth) {
    const bearer = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.test(auth.header ?? '');
    return { status: 401, reasons: [bearer ? 'TokenInvalid' : 'TokenMissing'] };
  }
  if (auth.token.defects.length > 0) {
    return { status: 401, reasons: [...new Set(auth.token.defects.map((defect) => DEFECT_REASONS[defect]))] };
  }
  if (!validBody(requestBody)) return { status: 400, reasons: ['BadRequest'] };
  const { namespace, podName, podUid, serviceAccount } = auth.subject;
  const pod = podOf(podName);
  if (namespace !== TENANT || !pod || podUid !== pod.uid || podName === 'gone') {
    return { status: 403, reasons: ['PodNotFound'] };
  }
  if (podName === 'terminating' || podName === 'finished')
    return { status: 403, reasons: ['reason' in pod ? pod.reason : ''] };
  if (serviceAccount !== SERVICE_ACCOUNT) return { status: 403, reasons: ['ServiceAccountMismatch'] };
  if (podName === 'not-opted-in' || !OPTED_IN.includes(requestBody.connection)) {
    return { status: 403, reasons: ['NotOptedIn'] };
  }
  const connection = CONNECTIONS[requestBody.connection as keyof typeof CONNECTIONS];
  return { status: connection.status, reasons: 'reason' in connection ? [connection.reason] : [] };
}

function headerFor(auth: Authorization): string | undefined {
  if ('header' in auth) return auth.header;
  const token = mintToken(
    auth.token,
    { issuer: world.issuer, audience: world.audience, ...auth.subject },
    world.keys,
    Math.floor(Date.now() / 1000),
  );
  return `Bearer ${token}`;
}

describe('Broker.handle, on generated requests', () => {
  it(
    'answers each with the status and reason its rule gives; only a flawless token for the live pod gets credentials',
    async () => {
      const property = fc.asyncProperty(authorization, body, async (auth, requestBody) => {
        const answer = await world.broker.handle(headerFor(auth), requestBody, '127.0.0.1');
        const want = expected(auth, requestBody);
        expect({ status: answer.status }).toEqual({ status: want.status });
        if (want.status === 200) {
          const { connection } = requestBody as { connection: string };
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
