// Writes an object's status through the status subresource once per
// reconcile, and only when it changed, with optimistic concurrency: a stale
// resourceVersion fails with 409 and the reconcile is retried on fresh state.
import { isDeepStrictEqual } from 'node:util';
import type { CustomObjectsApi, KubernetesObject } from '@kubernetes/client-node';

export interface CustomResource<S> extends KubernetesObject {
  status?: S;
}

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
}

/** Returns true if it wrote. `status` is compared as JSON, so Dates equal their strings. */
export async function writeStatusIfChanged<S>(
  api: CustomObjectsApi,
  type: ResourceType,
  object: CustomResource<S>,
  status: S,
): Promise<boolean> {
  if (isDeepStrictEqual(asJson(object.status ?? {}), asJson(status))) return false;
  await api.replaceNamespacedCustomObjectStatus({
    ...type,
    namespace: object.metadata!.namespace!,
    name: object.metadata!.name!,
    body: { ...object, status },
  });
  return true;
}

function asJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}
