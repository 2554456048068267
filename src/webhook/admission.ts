// One AdmissionReview in, one out. Whatever the request holds, the answer is
// an AdmissionReview the apiserver can act on (allowed, or refused with a
// message the pod's author sees) — except for a body that is not an
// AdmissionReview at all, which gets HTTP 400 since there is no uid to answer.
import type { V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';
import { INJECT_LABEL, type ToolConnection } from '../api/v1alpha1/index.ts';
import { connectionNames, isDenial, isOptedIn } from './annotations.ts';
import { mutate, type JsonPatchAddOp } from './mutate.ts';
import type { WebhookSettings } from './settings.ts';

const API_VERSION = 'admission.k8s.io/v1';

export type Outcome = 'mutated' | 'unchanged' | 'skipped' | 'denied' | 'invalid';

export interface ReviewDependencies {
  settings: WebhookSettings;
  /** Reads a ToolConnection; undefined when it does not exist, a rejection when that cannot be told. */
  lookup(namespace: string, name: string): Promise<ToolConnection | undefined>;
}

/** What to answer, and what to log and count about it. */
export interface ReviewResult {
  httpStatus: 200 | 400;
  body: unknown;
  outcome: Outcome;
  /** One line for the log: why this outcome. */
  reason: string;
  dryRun: boolean;
  uid?: string;
  namespace?: string;
  /** The pod's name, or its generateName when the apiserver has not named it yet. */
  pod?: string;
  /** An unexpected failure, for the log only. */
  err?: unknown;
}

const groupVersionKind = z.looseObject({ group: z.string(), version: z.string(), kind: z.string() });
const groupVersionResource = z.looseObject({ group: z.string(), version: z.string(), resource: z.string() });

// Just enough to answer: with a uid, anything else wrong in the request is
// refused in an AdmissionReview, so the apiserver shows the reason.
const admissionReview = z.looseObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('AdmissionReview'),
  request: z.looseObject({ uid: z.string().min(1) }),
});
const admissionRequest = z.looseObject({
  uid: z.string().min(1),
  kind: groupVersionKind.optional(),
  resource: groupVersionResource.optional(),
  subResource: z.string().optional(),
  namespace: z.string().optional(),
  operation: z.string().optional(),
  dryRun: z.boolean().optional(),
  object: z.unknown().optional(),
});
type AdmissionRequest = z.infer<typeof admissionRequest>;

// The parts of a Pod the webhook reads; the rest passes through untouched.
const stringMap = z.record(z.string(), z.string());
const securityContext = z.looseObject({ runAsUser: z.number().int().optional() });
const container = z.looseObject({
  name: z.string(),
  volumeMounts: z
    .array(
      z.looseObject({
        name: z.string(),
        mountPath: z.string(),
        subPath: z.string().optional(),
        subPathExpr: z.string().optional(),
        readOnly: z.boolean().optional(),
      }),
    )
    .optional(),
  env: z.array(z.looseObject({ name: z.string() })).optional(),
  securityContext: securityContext.optional(),
});
const pod = z.looseObject({
  metadata: z
    .looseObject({
      name: z.string().optional(),
      generateName: z.string().optional(),
      labels: stringMap.optional(),
      annotations: stringMap.optional(),
    })
    .optional(),
  spec: z.looseObject({
    containers: z.array(container),
    initContainers: z.array(container).optional(),
    volumes: z.array(z.looseObject({ name: z.string() })).optional(),
    activeDeadlineSeconds: z.number().int().optional(),
    securityContext: securityContext.extend({ fsGroup: z.number().int().optional() }).optional(),
  }),
});

type Decision =
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'mutated' | 'unchanged'; reason: string; patch: JsonPatchAddOp[]; warnings: string[] }
  | { outcome: 'denied' | 'invalid'; reason: string; code: number; err?: unknown };

export async function review(body: unknown, dependencies: ReviewDependencies): Promise<ReviewResult> {
  const parsed = admissionReview.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const message = `expected an ${API_VERSION} AdmissionReview with a request.uid; ${issue.path.join('.') || 'body'}: ${issue.message}`;
    return { httpStatus: 400, body: { message }, outcome: 'invalid', reason: message, dryRun: false };
  }
  const checked = admissionRequest.safeParse(parsed.data.request);
  const request: AdmissionRequest = checked.success ? checked.data : { uid: parsed.data.request.uid };
  let decision: Decision;
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const message = `request is not an admission request: ${['request', ...issue.path].join('.')}: ${issue.message}`;
    decision = { outcome: 'invalid', reason: message, code: 400 };
  } else {
    try {
      decision = await decide(request, dependencies);
    } catch (err) {
      // A bug must not turn into a hung or dropped admission: answer, and log it.
      decision = { outcome: 'denied', reason: 'internal error', code: 500, err };
    }
  }
  const metadata = (request.object as { metadata?: { name?: unknown; generateName?: unknown } } | undefined)?.metadata;
  const podName = [metadata?.name, metadata?.generateName].find((name) => typeof name === 'string');
  return {
    httpStatus: 200,
    body: { apiVersion: API_VERSION, kind: 'AdmissionReview', response: response(request.uid, decision) },
    outcome: decision.outcome,
    reason: decision.reason,
    dryRun: request.dryRun === true,
    uid: request.uid,
    ...(request.namespace !== undefined ? { namespace: request.namespace } : {}),
    ...(podName !== undefined ? { pod: podName } : {}),
    ...('err' in decision ? { err: decision.err } : {}),
  };
}

async function decide(request: AdmissionRequest, { settings, lookup }: ReviewDependencies): Promise<Decision> {
  const { kind, resource, subResource, operation, namespace } = request;
  if (
    operation !== 'CREATE' ||
    subResource ||
    kind?.group !== '' ||
    kind.kind !== 'Pod' ||
    resource?.group !== '' ||
    resource.resource !== 'pods'
  ) {
    return { outcome: 'skipped', reason: 'not the creation of a pod' };
  }
  const parsed = pod.safeParse(request.object);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const message = `request.object is not a Pod: ${['object', ...issue.path].join('.')}: ${issue.message}`;
    return { outcome: 'invalid', reason: message, code: 400 };
  }
  if (!namespace) return { outcome: 'invalid', reason: 'request.namespace is missing for a pod', code: 400 };
  const object = parsed.data as V1Pod;
  if (!isOptedIn(object)) return { outcome: 'skipped', reason: `no label ${INJECT_LABEL}=true` };

  const names = connectionNames(object);
  const connections = isDenial(names) ? new Map() : await lookupAll(namespace, names, lookup);
  if (!(connections instanceof Map)) return connections;
  const result = mutate({ pod: object, namespace, connections, settings });
  if (isDenial(result)) return { outcome: 'denied', reason: result.denied, code: result.code };
  return result.patch.length > 0
    ? { outcome: 'mutated', reason: 'added what Courier needs', ...result }
    : { outcome: 'unchanged', reason: 'already has what Courier adds', ...result };
}

/** The ToolConnections that exist, by name; a refusal when one of them could not be read. */
async function lookupAll(
  namespace: string,
  names: readonly string[],
  lookup: ReviewDependencies['lookup'],
): Promise<Map<string, ToolConnection> | Decision> {
  const results = await Promise.allSettled(names.map((name) => lookup(namespace, name)));
  const connections = new Map<string, ToolConnection>();
  for (const [i, result] of results.entries()) {
    const name = JSON.stringify(names[i]);
    if (result.status === 'rejected') {
      const reason = `could not read ToolConnection ${name} in namespace ${JSON.stringify(namespace)}; try again`;
      return { outcome: 'denied', reason, code: 503, err: result.reason };
    }
    if (result.value) connections.set(names[i]!, result.value);
  }
  return connections;
}

const STATUS_REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  403: 'Forbidden',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

function response(uid: string, decision: Decision): Record<string, unknown> {
  if ('code' in decision) {
    const { code, reason: message } = decision;
    return { uid, allowed: false, status: { code, message, reason: STATUS_REASONS[code] } };
  }
  if (!('patch' in decision) || decision.patch.length === 0) return { uid, allowed: true };
  return {
    uid,
    allowed: true,
    patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(decision.patch)).toString('base64'),
    ...(decision.warnings.length > 0 ? { warnings: decision.warnings } : {}),
  };
}
