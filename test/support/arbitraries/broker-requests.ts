// Requests to the credential broker for its property tests, and the answer
// the broker's rule gives each: the Authorization header (junk, or a token
// plan naming a subject), the body (good or not), and the expected status
// and reason. Shared by the decision's property (src/broker/broker.property.test.ts)
// and the HTTPS endpoint's (src/broker/server.property.test.ts).
import fc from 'fast-check';
import {
  CONNECTIONS,
  OPTED_IN_CONNECTIONS,
  OTHER_SERVICE_ACCOUNT,
  PODS,
  SERVICE_ACCOUNT,
  TENANT,
  type BrokerWorld,
} from '../broker-world.ts';
import { anyJson, dnsLabel, hostileString } from './json.ts';
import { junkAuthorization, mintToken, tokenPlan, type TokenDefect, type TokenPlan } from './tokens.ts';

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
export interface Subject {
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

export type Authorization = { token: TokenPlan; subject: Subject } | { header: string | undefined };

export const authorization: fc.Arbitrary<Authorization> = fc.oneof(
  { arbitrary: fc.record({ token: tokenPlan(), subject }), weight: 8 },
  { arbitrary: fc.record({ header: junkAuthorization() }), weight: 1 },
);

const connectionName = fc.oneof(
  { arbitrary: fc.constantFrom(...Object.keys(CONNECTIONS)), weight: 8 },
  { arbitrary: dnsLabel(), weight: 1 },
);

export const requestBody: fc.Arbitrary<unknown> = fc.oneof(
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

/** The request body's rule, restated from the broker's refusals: an object of connection and durationSeconds only. */
export function validBody(value: unknown): value is { connection: string; durationSeconds?: number } {
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

export interface Expected {
  status: number;
  /** Any of these (several flaws), or none for 200. */
  reasons: string[];
}

/** The broker's rule: token → body → live pod → opt-in → ToolConnection. */
export function expectedAnswer(auth: Authorization, requestBody: unknown): Expected {
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
  if (podName === 'not-opted-in' || !OPTED_IN_CONNECTIONS.includes(requestBody.connection)) {
    return { status: 403, reasons: ['NotOptedIn'] };
  }
  const connection = CONNECTIONS[requestBody.connection as keyof typeof CONNECTIONS];
  return { status: connection.status, reasons: 'reason' in connection ? [connection.reason] : [] };
}

/** The Authorization header for `auth`, its token minted now with `world`'s keys. */
export function authorizationHeader(auth: Authorization, world: BrokerWorld): string | undefined {
  if ('header' in auth) return auth.header;
  const token = mintToken(
    auth.token,
    { issuer: world.issuer, audience: world.audience, ...auth.subject },
    world.keys,
    Math.floor(Date.now() / 1000),
  );
  return `Bearer ${token}`;
}
