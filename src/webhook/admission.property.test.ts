// Properties of the admission handler over generated AdmissionReviews (see
// test/support/arbitraries/pods.ts): whatever arrives, it answers without
// throwing; a review it can answer gets an admission.k8s.io/v1 answer with
// the request's uid; a patch holds only `add` operations that apply cleanly
// (RFC 6902, strictly) without overwriting anything the pod had; and the
// patched pod, sent again, needs nothing more — as when the apiserver
// reinvokes the webhook. Case counts and replay: docs/fuzzing.md.
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { anyReviewBody, pod } from '../../test/support/arbitraries/pods.ts';
import { fuzzParameters, fuzzRuns, fuzzTimeout } from '../../test/support/arbitraries/runs.ts';
import {
  applyJsonPatch,
  applyOperation,
  JsonPatchError,
  resolvePointer,
  type JsonPatchOperation,
} from '../../test/support/json-patch.ts';
import { review, type ReviewDependencies, type ReviewResult } from './admission.ts';
import { mutate } from './mutate.ts';
import { CONNECTIONS, NAMESPACE, SETTINGS } from './testing/fixtures.ts';

const dependencies: ReviewDependencies = {
  settings: SETTINGS,
  lookup: async (namespace, name) => (namespace === NAMESPACE ? CONNECTIONS.get(name) : undefined),
};
// Names that do not exist come from the generators themselves.
const options = { namespace: NAMESPACE, connections: [...CONNECTIONS.keys()] };
const RUNS = fuzzRuns();

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The request's uid, when the body is shaped enough to have one. */
function uidOf(body: unknown): unknown {
  return isObject(body) && isObject(body.request) ? body.request.uid : undefined;
}

/** Whether the body is what the handler must answer with an AdmissionReview rather than HTTP 400. */
function answerable(body: unknown): boolean {
  const uid = uidOf(body);
  return (
    isObject(body) &&
    body.apiVersion === 'admission.k8s.io/v1' &&
    body.kind === 'AdmissionReview' &&
    typeof uid === 'string' &&
    uid.length > 0
  );
}

/** Checks an answer's shape; returns the decoded patch, if any. */
function checkAnswer(body: unknown, result: ReviewResult): JsonPatchOperation[] | undefined {
  // An unexpected exception inside the handler shows as `err` (and a 500 denial).
  expect(result.err).toBeUndefined();
  // The server sends it as JSON: it must survive that unchanged.
  expect(JSON.parse(JSON.stringify(result.body))).toEqual(result.body);
  if (!answerable(body)) {
    expect(result.httpStatus).toBe(400);
    expect(result.outcome).toBe('invalid');
    expect(result.body).toEqual({ message: expect.any(String) });
    expect((result.body as { message: string }).message).not.toBe('');
    return undefined;
  }
  expect(result.httpStatus).toBe(200);
  const answer = result.body as Json;
  expect(answer).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: expect.any(Object) });
  const response = answer.response as Json;
  expect(response.uid).toBe(uidOf(body));
  expect(typeof response.allowed).toBe('boolean');
  if (response.allowed === false) {
    const status = response.status as Json;
    expect([400, 403, 503]).toContain(status.code);
    expect(typeof status.message).toBe('string');
    expect(status.message).not.toBe('');
    expect(response.patch).toBeUndefined();
    return undefined;
  }
  if (response.patch === undefined) {
    expect(response.patchType).toBeUndefined();
    return undefined;
  }
  expect(response.patchType).toBe('JSONPatch');
  expect(typeof response.patch).toBe('string');
  const patch = JSON.parse(Buffer.from(response.patch as string, 'base64').toString('utf8')) as unknown;
  expect(Array.isArray(patch)).toBe(true);
  for (const operation of patch as Json[]) {
    expect(operation).toEqual({ op: 'add', path: expect.stringMatching(/^\/spec\//), value: expect.anything() });
  }
  return patch as JsonPatchOperation[];
}

/** Applies a patch one operation at a time, failing if an `add` would overwrite a member the pod had. */
function applyWithoutOverwrite(document: unknown, patch: readonly JsonPatchOperation[]): unknown {
  let current = structuredClone(document);
  for (const operation of patch) {
    const slash = operation.path.lastIndexOf('/');
    const parent = resolvePointer(current, operation.path.slice(0, slash));
    if (isObject(parent)) {
      const key = operation.path
        .slice(slash + 1)
        .replaceAll('~1', '/')
        .replaceAll('~0', '~');
      if (Object.hasOwn(parent, key)) throw new JsonPatchError(`${operation.path} would overwrite the pod's own value`);
    }
    current = applyOperation(current, operation);
  }
  return current;
}

function reviewOf(object: unknown, uid = 'f1e2d3c4-0000-4000-8000-000000000001'): Json {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: NAMESPACE,
      operation: 'CREATE',
      object,
    },
  };
}

/** The full check: a sound answer, a clean patch, and nothing more to add the second time. */
async function checkReview(body: unknown): Promise<void> {
  const result = await review(body, dependencies);
  const patch = checkAnswer(body, result);
  if (!patch) return;
  const object = ((body as Json).request as Json).object;
  const patched = applyWithoutOverwrite(object, patch);
  const again = await review(reviewOf(patched), dependencies);
  checkAnswer(reviewOf(patched), again);
  expect(again.outcome).toBe('unchanged');
  expect((again.body as { response: Json }).response).toEqual({ uid: expect.any(String), allowed: true });
}

describe('review, on generated AdmissionReviews', () => {
  it(
    'answers every body: an AdmissionReview with its uid, or 400 without one; patches only add, apply cleanly, and are idempotent',
    async () => {
      await fc.assert(fc.asyncProperty(anyReviewBody(options), checkReview), fuzzParameters(RUNS));
    },
    fuzzTimeout(RUNS, 2),
  );

  it(
    'answers pods that already hold part of what Courier adds (another webhook or the author put it there)',
    async () => {
      // Some of Courier's own operations, applied before the pod reaches the webhook.
      const partlyMutated = fc.tuple(pod(options), fc.array(fc.boolean(), { maxLength: 16 })).map(([object, keep]) => {
        const mutation = mutate({
          pod: object as V1Pod,
          namespace: NAMESPACE,
          connections: CONNECTIONS,
          settings: SETTINGS,
        });
        if ('denied' in mutation) return object;
        let result: unknown = structuredClone(object);
        mutation.patch.forEach((operation, i) => {
          if (!keep[i]) return;
          try {
            // An `add` that fails changes nothing.
            result = applyOperation(result, operation);
          } catch {
            // An append to a list an earlier, skipped operation would have created.
          }
        });
        return result;
      });
      await fc.assert(
        fc.asyncProperty(partlyMutated, (object) => checkReview(reviewOf(object))),
        fuzzParameters(RUNS),
      );
    },
    fuzzTimeout(RUNS, 2),
  );
});

describe('the RFC 6902 applier the properties use', () => {
  // Examples from RFC 6902, appendix A.
  it.each<[string, unknown, JsonPatchOperation[], unknown]>([
    [
      'A.1 adds an object member',
      { foo: 'bar' },
      [{ op: 'add', path: '/baz', value: 'qux' }],
      { baz: 'qux', foo: 'bar' },
    ],
    [
      'A.2 adds an array element',
      { foo: ['bar', 'baz'] },
      [{ op: 'add', path: '/foo/1', value: 'qux' }],
      { foo: ['bar', 'qux', 'baz'] },
    ],
    ['A.3 removes an object member', { baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }], { foo: 'bar' }],
    [
      'A.6 moves a value',
      { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
      [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
      { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
    ],
    [
      'A.16 appends with "-"',
      { foo: ['bar'] },
      [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }],
      { foo: ['bar', ['abc', 'def']] },
    ],
  ])('%s', (_, document, patch, expected) => {
    expect(applyJsonPatch(document, patch)).toEqual(expected);
  });

  it.each<[string, unknown, JsonPatchOperation[]]>([
    ['A.12 adds to a missing parent', { foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }]],
    ['A.9 fails a test', { baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }]],
    ['indexes past the end', { foo: ['bar'] }, [{ op: 'add', path: '/foo/2', value: 'x' }]],
    ['indexes with a leading zero', { foo: ['bar'] }, [{ op: 'add', path: '/foo/01', value: 'x' }]],
    ['removes what is not there', { foo: 'bar' }, [{ op: 'remove', path: '/baz' }]],
  ])('refuses: %s', (_, document, patch) => {
    expect(() => applyJsonPatch(document, patch)).toThrow(JsonPatchError);
  });
});
