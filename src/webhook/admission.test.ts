import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { review, type ReviewDependencies } from './admission.ts';
import { mutate } from './mutate.ts';
import { applyPatch, CONNECTIONS, NAMESPACE, SETTINGS } from './testing/fixtures.ts';

const dependencies: ReviewDependencies = {
  settings: SETTINGS,
  lookup: async (namespace, name) => (namespace === NAMESPACE ? CONNECTIONS.get(name) : undefined),
};

function scanPod(connections = 'aws-prod'): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'scan-',
      namespace: NAMESPACE,
      labels: { 'courier.dev/inject': 'true' },
      annotations: { 'courier.dev/connections': connections },
    },
    spec: { containers: [{ name: 'scanner', image: 'scanner:1' }] },
  };
}

function admissionReview(request: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: NAMESPACE,
      operation: 'CREATE',
      object: scanPod(),
      dryRun: false,
      ...request,
    },
  };
}

function decode(patch: string): unknown {
  return JSON.parse(Buffer.from(patch, 'base64').toString());
}

describe('review', () => {
  it('answers with the patch, base64 JSON, echoing the uid', async () => {
    const result = await review(admissionReview({}), dependencies);
    const expected = mutate({ pod: scanPod(), namespace: NAMESPACE, connections: CONNECTIONS, settings: SETTINGS });
    expect(result).toMatchObject({
      httpStatus: 200,
      outcome: 'mutated',
      dryRun: false,
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      namespace: NAMESPACE,
      pod: 'scan-',
    });
    const body = result.body as { response: { patch: string } };
    expect(body).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
        allowed: true,
        patchType: 'JSONPatch',
        patch: expect.any(String),
      },
    });
    expect(decode(body.response.patch)).toEqual('patch' in expected && expected.patch);
  });

  it('handles a dry run exactly like a real one, and says it was one', async () => {
    const real = await review(admissionReview({}), dependencies);
    const dry = await review(admissionReview({ dryRun: true }), dependencies);
    expect(dry.body).toEqual(real.body);
    expect(dry.dryRun).toBe(true);
  });

  it('passes warnings on', async () => {
    const result = await review(admissionReview({ object: scanPod('db') }), dependencies);
    expect(result.body).toMatchObject({
      response: { allowed: true, warnings: ['ToolConnection "db" is not Ready yet; the agent waits for it'] },
    });
  });

  it('allows a pod that already has everything, without a patch', async () => {
    const pod = scanPod();
    const first = await review(admissionReview({ object: pod }), dependencies);
    const patch = decode((first.body as { response: { patch: string } }).response.patch);
    const again = await review(
      admissionReview({ object: applyPatch(pod, patch as Parameters<typeof applyPatch>[1]) }),
      dependencies,
    );
    expect(again).toMatchObject({ outcome: 'unchanged', body: { response: { allowed: true } } });
    expect((again.body as { response: object }).response).toEqual({ uid: expect.any(String), allowed: true });
  });

  it.each([
    ['an update', { operation: 'UPDATE' }],
    ['a subresource', { subResource: 'status' }],
    ['another kind', { kind: { group: 'batch', version: 'v1', kind: 'Job' } }],
    ['another resource', { resource: { group: '', version: 'v1', resource: 'pods/ephemeralcontainers' } }],
  ])('skips %s', async (_, request) => {
    const result = await review(admissionReview(request), dependencies);
    expect(result).toMatchObject({ httpStatus: 200, outcome: 'skipped', reason: 'not the creation of a pod' });
    expect((result.body as { response: object }).response).toEqual({ uid: expect.any(String), allowed: true });
  });

  it('skips a pod without the label', async () => {
    const pod = scanPod();
    pod.metadata!.labels = {};
    expect(await review(admissionReview({ object: pod }), dependencies)).toMatchObject({
      outcome: 'skipped',
      reason: 'no label courier.dev/inject=true',
      body: { response: { allowed: true } },
    });
  });

  it('refuses with 403 and the reason', async () => {
    const result = await review(admissionReview({ object: scanPod('gitlab') }), dependencies);
    expect(result).toMatchObject({ httpStatus: 200, outcome: 'denied' });
    expect((result.body as { response: object }).response).toEqual({
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      allowed: false,
      status: {
        code: 403,
        reason: 'Forbidden',
        message:
          'ToolConnection "gitlab" not found in namespace "scans"; create it or fix the courier.dev/connections annotation',
      },
    });
  });

  it('refuses a malformed annotation with 400', async () => {
    const result = await review(admissionReview({ object: scanPod('Bad Name') }), dependencies);
    expect(result.body).toMatchObject({
      response: {
        allowed: false,
        status: { code: 400, reason: 'BadRequest', message: expect.stringContaining('"Bad Name"') },
      },
    });
  });

  it('refuses with 503 when a ToolConnection cannot be read, and keeps the error for the log', async () => {
    const failure = new Error('connect ECONNREFUSED');
    const result = await review(admissionReview({}), {
      ...dependencies,
      lookup: () => Promise.reject(failure),
    });
    expect(result).toMatchObject({ outcome: 'denied', err: failure });
    expect(result.body).toMatchObject({
      response: {
        allowed: false,
        status: {
          code: 503,
          reason: 'ServiceUnavailable',
          message: 'could not read ToolConnection "aws-prod" in namespace "scans"; try again',
        },
      },
    });
  });

  it('answers an AdmissionReview even when something inside fails unexpectedly', async () => {
    const bug = new TypeError('cannot read properties of undefined');
    const result = await review(admissionReview({}), {
      ...dependencies,
      lookup: () => {
        throw bug;
      },
    });
    expect(result).toMatchObject({ httpStatus: 200, outcome: 'denied', reason: 'internal error', err: bug });
    expect(result.body).toMatchObject({
      response: { allowed: false, status: { code: 500, reason: 'InternalError', message: 'internal error' } },
    });
  });
});

describe('review of malformed input', () => {
  it.each([
    ['null', null, 'body: Invalid input: expected object, received null'],
    ['a string', 'AdmissionReview', 'body: Invalid input: expected object, received string'],
    ['an array', [], 'body: Invalid input: expected object, received array'],
    ['v1beta1', { ...admissionReview({}), apiVersion: 'admission.k8s.io/v1beta1' }, 'apiVersion: Invalid input'],
    ['another kind', { ...admissionReview({}), kind: 'TokenReview' }, 'kind: Invalid input'],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, 'request: Invalid input'],
    ['no uid', admissionReview({ uid: undefined }), 'request.uid: Invalid input'],
    ['an empty uid', admissionReview({ uid: '' }), 'request.uid: Too small'],
  ])('answers HTTP 400 to %s: there is no uid to answer', async (_, body, problem) => {
    const result = await review(body, dependencies);
    expect(result).toMatchObject({ httpStatus: 400, outcome: 'invalid', dryRun: false });
    const { message } = result.body as { message: string };
    expect(message).toMatch(/^expected an admission\.k8s\.io\/v1 AdmissionReview with a request\.uid; /);
    expect(message).toContain(problem);
  });

  it.each([
    ['no object', undefined, 'object: Invalid input: expected object, received undefined'],
    ['a string', 'pod', 'object: Invalid input: expected object, received string'],
    ['no spec', { metadata: {} }, 'object.spec: Invalid input'],
    ['containers that are not a list', { spec: { containers: {} } }, 'object.spec.containers: Invalid input'],
    ['a container without a name', { spec: { containers: [{ image: 'x' }] } }, 'object.spec.containers.0.name'],
    [
      'a label that is not a string',
      { metadata: { labels: { 'courier.dev/inject': true } }, spec: { containers: [] } },
      'object.metadata.labels.courier.dev/inject',
    ],
    [
      'a mount without a path',
      { spec: { containers: [{ name: 'a', volumeMounts: [{ name: 'v' }] }] } },
      'object.spec.containers.0.volumeMounts.0.mountPath',
    ],
    [
      'a fractional fsGroup',
      { spec: { containers: [], securityContext: { fsGroup: 1.5 } } },
      'object.spec.securityContext.fsGroup',
    ],
  ])('refuses a pod with %s as an AdmissionReview with 400', async (_, object, problem) => {
    const result = await review(admissionReview({ object }), dependencies);
    expect(result).toMatchObject({ httpStatus: 200, outcome: 'invalid' });
    expect(result.body).toMatchObject({
      response: {
        uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
        allowed: false,
        status: { code: 400, reason: 'BadRequest', message: expect.stringContaining(problem) },
      },
    });
  });

  // Found by admission.property.test.ts: these got HTTP 400 although the uid was there to answer.
  it.each([
    ['a kind that is not a group, version and kind', { kind: false }, 'request.kind: Invalid input'],
    ['a namespace that is not a string', { namespace: 7 }, 'request.namespace: Invalid input'],
    ['a dryRun that is not a boolean', { dryRun: 'yes' }, 'request.dryRun: Invalid input'],
  ])('refuses a request with %s as an AdmissionReview with 400, answering its uid', async (_, request, problem) => {
    const result = await review(admissionReview(request), dependencies);
    expect(result).toMatchObject({ httpStatus: 200, outcome: 'invalid', uid: '705ab4f5-6393-11e8-b7cc-42010a800002' });
    expect(result.body).toMatchObject({
      response: {
        uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
        allowed: false,
        status: { code: 400, reason: 'BadRequest', message: expect.stringContaining(problem) },
      },
    });
  });

  it('refuses a pod request without a namespace', async () => {
    const result = await review(admissionReview({ namespace: undefined }), dependencies);
    expect(result.body).toMatchObject({
      response: { allowed: false, status: { code: 400, message: 'request.namespace is missing for a pod' } },
    });
  });

  it('never throws, whatever the shape', async () => {
    const odd: unknown[] = [undefined, 0, true, {}, { request: 5 }, { request: { uid: 7 } }];
    for (const object of [null, 1, [], { metadata: 'x' }, { spec: null }, { spec: { containers: [null] } }]) {
      odd.push(admissionReview({ object }));
    }
    for (const body of odd) {
      const result = await review(body, dependencies);
      expect([200, 400]).toContain(result.httpStatus);
      expect(result.outcome).toBe('invalid');
    }
  });
});
