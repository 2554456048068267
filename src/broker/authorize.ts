// The broker's access rule, as one pure function over what it has looked up:
// a verified token, the live pod it is bound to, and the ToolConnection asked
// for. Each refusal names what the caller (or an admin) can change.
import type { V1Pod } from '@kubernetes/client-node';
import { CONNECTIONS_ANNOTATION, INJECT_LABEL, type ToolConnection } from '../api/v1alpha1/index.ts';
import { isTrue } from '../controllers/runtime/conditions.ts';
import { BrokerDenial } from './denial.ts';
import type { PodIdentity } from './token-verifier.ts';

/** Retry-After for a connection that is not Ready yet: the agent comes back. */
const NOT_READY_RETRY_SECONDS = 10;

export function connectionsOf(pod: V1Pod): string[] {
  const raw = pod.metadata?.annotations?.[CONNECTIONS_ANNOTATION] ?? '';
  return raw
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

/** Throws a BrokerDenial unless `pod` may receive `connection` now. */
export function authorize(
  identity: PodIdentity,
  pod: V1Pod | undefined,
  connection: string,
  tc: ToolConnection | undefined,
): asserts pod is V1Pod {
  const podName = `${identity.namespace}/${identity.podName}`;
  if (!pod) throw new BrokerDenial(403, 'PodNotFound', `pod ${podName} no longer exists; its token is not accepted`);
  if (pod.metadata?.deletionTimestamp) throw new BrokerDenial(403, 'PodTerminating', `pod ${podName} is being deleted`);
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed')
    throw new BrokerDenial(403, 'PodFinished', `pod ${podName} has finished`);
  if ((pod.spec?.serviceAccountName ?? 'default') !== identity.serviceAccount)
    throw new BrokerDenial(403, 'ServiceAccountMismatch', `pod ${podName} does not run as the token's service account`);
  if (pod.metadata?.labels?.[INJECT_LABEL] !== 'true' || !connectionsOf(pod).includes(connection))
    throw new BrokerDenial(
      403,
      'NotOptedIn',
      `pod ${podName} did not ask for ToolConnection "${connection}": it needs the label ${INJECT_LABEL}=true and "${connection}" in the ${CONNECTIONS_ANNOTATION} annotation`,
    );
  if (!tc)
    throw new BrokerDenial(
      404,
      'ConnectionNotFound',
      `ToolConnection "${connection}" not found in namespace ${identity.namespace}`,
    );
  if (tc.metadata.deletionTimestamp)
    throw new BrokerDenial(404, 'ConnectionDeleted', `ToolConnection "${connection}" is being deleted`);
  if (!(tc.spec.access?.serviceAccounts ?? []).includes(identity.serviceAccount))
    throw new BrokerDenial(
      403,
      'ServiceAccountNotAllowed',
      `service account ${identity.serviceAccount} may not receive ToolConnection "${connection}"; an admin can add it to spec.access.serviceAccounts (the request is recorded in status.accessRequests)`,
    );
  if (!isTrue(tc.status?.conditions, 'Ready'))
    throw new BrokerDenial(
      503,
      'ConnectionNotReady',
      `ToolConnection "${connection}" is not Ready yet; see kubectl describe toolconnection ${connection}`,
      NOT_READY_RETRY_SECONDS,
    );
}
