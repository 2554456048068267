// Service-account tokens for the broker's properties: the plan of a token
// (who it names, how it is signed, what is wrong with it) is generated, and
// the token is minted from the plan by hand — header and claims as raw JSON,
// signed with node:crypto — so a token can be wrong in ways a JWT library
// refuses to produce: a `crit` header, `alg` none, claims that are not an
// object, a signature by another key under the cluster key's kid.
import { createHmac, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { exportJWK, type JWK } from 'jose';
import { anyJson, hostileString, hugeString } from './json.ts';

/** What can be wrong with a token; each maps to the refusal it must cause (see the broker's tests). */
export const TOKEN_DEFECTS = [
  // Claims the verifier checks.
  'wrongIssuer',
  'noIssuer',
  'wrongAudience',
  'noAudience',
  'expired',
  'noExpiry',
  'expiryNotANumber',
  'notYetValid',
  'issuedAtNotANumber',
  'noSubject',
  'subjectOfAnotherAccount',
  // The Kubernetes claims.
  'noKubernetesClaims',
  'noNamespace',
  'noServiceAccount',
  'noPod',
  'noPodUid',
  // A pod name that is a list of one string: it reads as the name once turned into a string.
  'podNameNotAString',
  'claimsNotAnObject',
  // The signature and its header.
  'critHeader',
  'foreignKeySameKid',
  'foreignKeyOtherKid',
  'hmacWithPublicKey',
  'algNone',
  'algMismatch',
  'tamperedClaims',
  'truncated',
] as const;
export type TokenDefect = (typeof TOKEN_DEFECTS)[number];

export interface TokenSubject {
  issuer: string;
  audience: string;
  namespace: string;
  serviceAccount: string;
  podName: string;
  podUid: string;
}

export interface TokenPlan {
  /** Which cluster key signs it (before defects). */
  algorithm: 'RS256' | 'ES256';
  withKid: boolean;
  /** The audience as a string or in a list with others. */
  audienceList: boolean;
  lifetimeSeconds: number;
  defects: TokenDefect[];
  /** Header parameters nobody checks (reserved ones excluded). */
  extraHeader: Record<string, unknown>;
  /** Claims nobody checks (registered and Kubernetes ones excluded). */
  extraClaims: Record<string, unknown>;
}

const RESERVED_HEADER = new Set(['alg', 'kid', 'crit', 'b64', 'typ', 'zip', 'enc', 'jku', 'jwk', 'x5u', 'x5c']);
const RESERVED_CLAIMS = new Set(['iss', 'aud', 'exp', 'nbf', 'iat', 'sub', 'jti', 'kubernetes.io']);

function extraFields(reserved: ReadonlySet<string>): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .dictionary(fc.string({ maxLength: 12 }), anyJson(2), { maxKeys: 3 })
    .map((fields) => Object.fromEntries(Object.entries(fields).filter(([key]) => !reserved.has(key))));
}

/** A token plan: usually flawless, often with one or more defects. */
export function tokenPlan(): fc.Arbitrary<TokenPlan> {
  return fc.record({
    algorithm: fc.constantFrom<TokenPlan['algorithm']>('ES256', 'ES256', 'ES256', 'RS256'),
    withKid: fc.oneof({ arbitrary: fc.constant(true), weight: 9 }, { arbitrary: fc.constant(false), weight: 1 }),
    audienceList: fc.boolean(),
    lifetimeSeconds: fc.integer({ min: 600, max: 48 * 3600 }),
    defects: fc.oneof(
      { arbitrary: fc.constant<TokenDefect[]>([]), weight: 2 },
      { arbitrary: fc.uniqueArray(fc.constantFrom(...TOKEN_DEFECTS), { minLength: 1, maxLength: 3 }), weight: 3 },
    ),
    extraHeader: extraFields(RESERVED_HEADER),
    extraClaims: extraFields(RESERVED_CLAIMS),
  });
}

/** An Authorization header that is not "Bearer <token>" at all, or carries no JWT. */
export function junkAuthorization(): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    fc.constant(undefined),
    hostileString(),
    fc.constantFrom('Bearer', 'Bearer ', 'bearer abc.def.ghi', 'Basic dXNlcjpwYXNz', 'Bearer  a.b.c', 'Bearer a b'),
    fc.stringMatching(/^[A-Za-z0-9._~+/=-]{1,300}$/).map((token) => `Bearer ${token}`),
    hugeString(20_000, 200_000).map((text) => `Bearer ${Buffer.from(text).toString('base64url')}`),
  );
}

export interface SigningKey {
  kid: string;
  algorithm: 'RS256' | 'ES256';
  privateKey: KeyObject;
  jwk: JWK;
}

/** A fresh key pair; its public half as the JWK the apiserver would publish. */
export async function signingKey(algorithm: 'RS256' | 'ES256', kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } =
    algorithm === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: algorithm, use: 'sig' };
  return { kid, algorithm, privateKey, jwk };
}

export interface TokenKeys {
  /** The cluster's keys, by algorithm: what its JWKS publishes. */
  cluster: Record<'RS256' | 'ES256', SigningKey>;
  /** Keys nobody published, by algorithm. */
  foreign: Record<'RS256' | 'ES256', SigningKey>;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function signature(algorithm: string, key: KeyObject, input: string): Buffer {
  if (algorithm === 'RS256') return sign('sha256', Buffer.from(input), key);
  return sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
}

/** The token a plan describes, for `subject`, at `now` (seconds). */
export function mintToken(plan: TokenPlan, subject: TokenSubject, keys: TokenKeys, now: number): string {
  const has = (defect: TokenDefect) => plan.defects.includes(defect);
  const key =
    has('foreignKeySameKid') || has('foreignKeyOtherKid') ? keys.foreign[plan.algorithm] : keys.cluster[plan.algorithm];
  let kid: string | undefined = plan.withKid ? keys.cluster[plan.algorithm].kid : undefined;
  if (has('foreignKeyOtherKid')) kid = keys.foreign[plan.algorithm].kid;
  let alg: string = plan.algorithm;
  if (has('algNone')) alg = 'none';
  else if (has('hmacWithPublicKey')) alg = 'HS256';
  else if (has('algMismatch')) alg = plan.algorithm === 'RS256' ? 'RS384' : 'ES384';
  const header = {
    ...plan.extraHeader,
    alg,
    ...(kid !== undefined ? { kid } : {}),
    ...(has('critHeader') ? { crit: ['courier.dev/unknown'], 'courier.dev/unknown': true } : {}),
  };

  const k8s: Record<string, unknown> = {
    namespace: subject.namespace,
    pod: { name: subject.podName, uid: subject.podUid },
    serviceaccount: { name: subject.serviceAccount, uid: '0e5b1a32-91bb-4b1e-9bc1-2d1f0d6c1a77' },
  };
  if (has('noNamespace')) delete k8s.namespace;
  if (has('noServiceAccount')) delete k8s.serviceaccount;
  if (has('noPod')) delete k8s.pod;
  if (has('noPodUid')) k8s.pod = { name: subject.podName };
  if (has('podNameNotAString')) k8s.pod = { name: [subject.podName], uid: subject.podUid };
  const claims: Record<string, unknown> = {
    ...plan.extraClaims,
    iss: has('wrongIssuer') ? 'https://issuer.example' : subject.issuer,
    aud: has('wrongAudience')
      ? ['https://kubernetes.default.svc']
      : plan.audienceList
        ? ['https://kubernetes.default.svc', subject.audience]
        : subject.audience,
    exp: has('expiryNotANumber') ? String(now + plan.lifetimeSeconds) : now + plan.lifetimeSeconds,
    iat: has('issuedAtNotANumber') ? 'yesterday' : now - 5,
    nbf: now - 5,
    sub: `system:serviceaccount:${subject.namespace}:${has('subjectOfAnotherAccount') ? `${subject.serviceAccount}-other` : subject.serviceAccount}`,
    'kubernetes.io': k8s,
  };
  if (has('noIssuer')) delete claims.iss;
  if (has('noAudience')) delete claims.aud;
  if (has('expired')) claims.exp = now - 3600;
  if (has('noExpiry')) delete claims.exp;
  if (has('notYetValid')) claims.nbf = now + 3600;
  if (has('noSubject')) delete claims.sub;
  if (has('noKubernetesClaims')) delete claims['kubernetes.io'];

  const payload = has('claimsNotAnObject') ? ['not', 'an', 'object'] : claims;
  const input = `${base64url(header)}.${base64url(payload)}`;
  let sig: Buffer;
  if (alg === 'none') sig = Buffer.alloc(0);
  // The classic confusion: the public key's bytes used as an HMAC secret.
  else if (alg === 'HS256')
    sig = createHmac('sha256', JSON.stringify(keys.cluster[plan.algorithm].jwk)).update(input).digest();
  else sig = signature(plan.algorithm, key.privateKey, input);
  let token = `${input}.${sig.toString('base64url')}`;
  if (has('tamperedClaims')) {
    const [h, , s] = token.split('.');
    token = `${h}.${base64url({ ...claims, sub: `${claims.sub as string}x` })}.${s}`;
  }
  if (has('truncated')) token = token.slice(0, Math.max(1, token.length - 7));
  return token;
}

/** A random kid, so two runs never share keys by accident. */
export function randomKid(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}
