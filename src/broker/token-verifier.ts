// Verifies the projected service-account token a pod presents, locally:
// signature against the cluster's own JWKS (the apiserver's service-account
// issuer discovery), issuer, Courier's audience, expiry, and the pod binding
// claims. See docs/adr/0004-broker-token-verification.md for why not TokenReview.
// A bound token outlives its pod by design, so the broker still checks that
// the pod is alive (pod-lookup.ts); this module only proves who is asking.
import { OpenidApi, WellKnownApi, type KubeConfig } from '@kubernetes/client-node';
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { TOKEN_AUDIENCE } from '../api/v1alpha1/delivery.ts';
import { BrokerDenial } from './denial.ts';

/** Who a verified token says is asking. */
export interface PodIdentity {
  namespace: string;
  podName: string;
  podUid: string;
  serviceAccount: string;
  /** Token expiry, seconds since the epoch. */
  expiresAt: number;
}

export interface TokenVerifierOptions {
  audience?: string;
  /** Refetch the JWKS at most this often when a token names an unknown key. */
  minRefreshMs?: number;
  /** Tolerated clock skew for exp/nbf/iat. */
  clockToleranceSeconds?: number;
}

interface KeySource {
  issuer: string;
  jwks: ReturnType<typeof createLocalJWKSet>;
  fetchedAt: number;
}

interface KubernetesClaims extends JWTPayload {
  'kubernetes.io'?: {
    namespace?: string;
    pod?: { name?: string; uid?: string };
    serviceaccount?: { name?: string; uid?: string };
  };
}

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];

export class ServiceAccountTokenVerifier {
  private readonly wellKnown: WellKnownApi;
  private readonly openid: OpenidApi;
  private readonly audience: string;
  private readonly minRefreshMs: number;
  private readonly clockTolerance: number;
  private keys: Promise<KeySource> | undefined;

  constructor(kubeConfig: KubeConfig, options: TokenVerifierOptions = {}) {
    this.wellKnown = kubeConfig.makeApiClient(WellKnownApi);
    this.openid = kubeConfig.makeApiClient(OpenidApi);
    this.audience = options.audience ?? TOKEN_AUDIENCE;
    this.minRefreshMs = options.minRefreshMs ?? 30_000;
    this.clockTolerance = options.clockToleranceSeconds ?? 5;
  }

  /** Fetches the issuer and keys now, so the first request does not wait (and a broken setup shows at start). */
  async prepare(): Promise<void> {
    await this.keySource();
  }

  async verify(token: string): Promise<PodIdentity> {
    let source = await this.keySource();
    let payload: KubernetesClaims;
    try {
      payload = await this.check(token, source);
    } catch (error) {
      // The apiserver may have a new signing key since we fetched.
      if (!(error instanceof errors.JWKSNoMatchingKey) || Date.now() - source.fetchedAt < this.minRefreshMs)
        throw denialFor(error);
      this.keys = undefined;
      source = await this.keySource();
      try {
        payload = await this.check(token, source);
      } catch (retried) {
        throw denialFor(retried);
      }
    }
    return identityOf(payload);
  }

  private async check(token: string, source: KeySource): Promise<KubernetesClaims> {
    const { payload } = await jwtVerify<KubernetesClaims>(token, source.jwks, {
      issuer: source.issuer,
      audience: this.audience,
      algorithms: ALGORITHMS,
      clockTolerance: this.clockTolerance,
      requiredClaims: ['exp', 'sub'],
    });
    return payload;
  }

  private keySource(): Promise<KeySource> {
    if (!this.keys) {
      const loading = this.fetchKeys();
      this.keys = loading;
      // A failed fetch is retried by the next request, not cached.
      loading.catch(() => {
        if (this.keys === loading) this.keys = undefined;
      });
    }
    return this.keys;
  }

  private async fetchKeys(): Promise<KeySource> {
    const discovery = parseJson(await this.wellKnown.getServiceAccountIssuerOpenIDConfiguration()) as {
      issuer?: string;
    };
    if (!discovery.issuer) throw new Error('the apiserver published no service-account issuer');
    const jwks = parseJson(await this.openid.getServiceAccountIssuerOpenIDKeyset()) as JSONWebKeySet;
    return { issuer: discovery.issuer, jwks: createLocalJWKSet(jwks), fetchedAt: Date.now() };
  }
}

// client-node returns these documents as text or, depending on the content
// type it saw, already parsed.
function parseJson(body: unknown): unknown {
  return typeof body === 'string' ? JSON.parse(body) : body;
}

/** A claim's value when it is a non-empty string: a signed token's claims are still only JSON. */
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function identityOf(payload: KubernetesClaims): PodIdentity {
  const k8s = payload['kubernetes.io'];
  const namespace = text(k8s?.namespace);
  const serviceAccount = text(k8s?.serviceaccount?.name);
  const podName = text(k8s?.pod?.name);
  const podUid = text(k8s?.pod?.uid);
  if (!namespace || !serviceAccount)
    throw new BrokerDenial(401, 'NotServiceAccountToken', 'the token is not a Kubernetes service-account token');
  if (!podName || !podUid)
    throw new BrokerDenial(
      401,
      'NotPodBound',
      'the token is not bound to a pod; present the projected token the webhook mounts',
    );
  if (payload.sub !== `system:serviceaccount:${namespace}:${serviceAccount}`)
    throw new BrokerDenial(401, 'TokenInvalid', 'the token subject does not match its service account');
  return { namespace, podName, podUid, serviceAccount, expiresAt: payload.exp! };
}

function denialFor(error: unknown): BrokerDenial {
  if (error instanceof BrokerDenial) return error;
  if (error instanceof errors.JWTExpired) return new BrokerDenial(401, 'TokenExpired', 'the token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud')
      return new BrokerDenial(401, 'WrongAudience', `the token's audience is not ${TOKEN_AUDIENCE}`);
    if (error.claim === 'iss')
      return new BrokerDenial(401, 'WrongIssuer', "the token was not issued by this cluster's service-account issuer");
    return new BrokerDenial(401, 'TokenInvalid', `the token's ${error.claim} claim is not acceptable`);
  }
  if (error instanceof errors.JOSEError)
    return new BrokerDenial(401, 'TokenInvalid', 'the token is not a valid signed JWT from this cluster');
  // Anything else (the apiserver unreachable for the JWKS) is ours, not the caller's.
  throw error;
}
