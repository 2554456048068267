// Status conditions as Kubernetes API conventions want them: one per type,
// lastTransitionTime changing only when the status does, and the generation
// they were computed from.
import type { V1Condition } from '@kubernetes/client-node';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface ConditionUpdate {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/** Returns the conditions with `update` applied; the input is not changed. */
export function setCondition(
  conditions: readonly V1Condition[] | undefined,
  update: ConditionUpdate,
  observedGeneration: number,
  now: Date = new Date(),
): V1Condition[] {
  const existing = conditions?.find((c) => c.type === update.type);
  const transitioned = !existing || existing.status !== update.status;
  const next: V1Condition = {
    ...update,
    observedGeneration,
    lastTransitionTime: transitioned ? now : existing.lastTransitionTime,
  };
  return [...(conditions ?? []).filter((c) => c.type !== update.type), next].sort((a, b) =>
    a.type.localeCompare(b.type),
  );
}

export function conditionOf(conditions: readonly V1Condition[] | undefined, type: string): V1Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly V1Condition[] | undefined, type: string): boolean {
  return conditionOf(conditions, type)?.status === 'True';
}
