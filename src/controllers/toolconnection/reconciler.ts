// The ToolConnection reconciler. Level-triggered: each run reads the object
// and the world, converges, writes status once, and says when to come back.
//
//   ingest   source Secret → seal → store (new version only if the
//            fingerprint changed) → status → delete the source
//   validate STS for AWS, shape for generic; again after the interval
//   rotation RotationDue once an access key is older than maxKeyAge
//   delete   finalizer: the upstream secret goes first, then the object
//
// The order makes crashes harmless: a store write that status does not yet
// show is found by its fingerprint and adopted, not written twice; the source
// is deleted only after status records the stored version.
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Condition,
  type V1Secret,
} from '@kubernetes/client-node';
import {
  GROUP,
  TOOL_CONNECTIONS,
  VERSION,
  type ToolConnection,
  type ToolConnectionStatus,
} from '../../api/v1alpha1/index.ts';
import { Counter, type Registry } from 'prom-client';
import { parseDuration } from '../../config/duration.ts';
import type { KeyHierarchy } from '../../crypto/key-hierarchy.ts';
import type { Credential } from '../../crypto/fingerprint.ts';
import type { Logger } from '../../log/logger.ts';
import { isStoreError } from '../../stores/errors.ts';
import { UnknownStoreError, type StoreRegistry } from '../../stores/registry.ts';
import type { SecretRef, SecretStore } from '../../stores/store.ts';
import { conditionOf, setCondition, type ConditionUpdate } from '../runtime/conditions.ts';
import { splitKey, type ObjectKey, type ReconcileResult, type Reconciler } from '../runtime/controller.ts';
import type { EventRecorder } from '../runtime/events.ts';
import { writeStatusIfChanged } from '../runtime/status.ts';
import { validateAws, AwsValidationError, type StsSettings } from './aws-validation.ts';
import { credentialKind, readCredential, SourceProblem } from './source.ts';

export const FINALIZER = 'courier.dev/upstream-secret';
const RESOURCE = { group: GROUP, version: VERSION, plural: TOOL_CONNECTIONS.plural };
const MISSING_SOURCE_RETRY_MS = 30_000;
const ACCESS_REQUEST_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const VALIDATION_JITTER = 0.1;

export interface ToolConnectionReconcilerDeps {
  kubeConfig: KubeConfig;
  keys: KeyHierarchy;
  stores: Pick<StoreRegistry, 'get'>;
  events: EventRecorder;
  logger: Logger;
  sts: StsSettings;
  /** Reads the object; the informer's cache in the manager. */
  get(namespace: string, name: string): ToolConnection | undefined;
  /** Counts validations by provider and result (courier_validations_total). */
  validations?: Counter<'provider' | 'result'>;
  now?: () => Date;
}

export function validationCounter(registry: Registry): Counter<'provider' | 'result'> {
  return new Counter({
    name: 'courier_validations_total',
    help: 'ToolConnection validations by provider and result (True, False).',
    labelNames: ['provider', 'result'],
    registers: [registry],
  });
}

export class ToolConnectionReconciler implements Reconciler {
  private readonly deps: ToolConnectionReconcilerDeps;
  private readonly objects: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly now: () => Date;

  constructor(deps: ToolConnectionReconcilerDeps) {
    this.deps = deps;
    this.objects = deps.kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = deps.kubeConfig.makeApiClient(CoreV1Api);
    this.now = deps.now ?? (() => new Date());
  }

  async reconcile(key: ObjectKey): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const tc = this.deps.get(namespace!, name);
    if (!tc) return {};
    if (tc.metadata.deletionTimestamp) return this.finalize(tc);

    const state = new StatusDraft(tc, this.now());
    const kind = credentialKind(tc);
    let credential: Credential | undefined;
    let ingestedSource: V1Secret | undefined;
    let requeueAfterMs: number | undefined;

    let store: SecretStore | undefined;
    if (kind) {
      try {
        store = this.deps.stores.get(tc.spec.store);
      } catch (error) {
        if (!(error instanceof UnknownStoreError)) throw error;
        // A spelling mistake, or a store not configured yet: nothing to retry until the object or
        // the manager's configuration changes (either way the object is reconciled again).
        if (conditionOf(tc.status?.conditions, 'Stored')?.reason !== 'UnknownStore')
          await this.deps.events.record(tc, 'Warning', 'UnknownStore', 'Store', error.message);
        state.set({ type: 'Stored', status: 'False', reason: 'UnknownStore', message: error.message });
      }
    }
    if (kind && store) {
      if (!tc.metadata.finalizers?.includes(FINALIZER)) {
        // Before anything is written upstream, so nothing can be orphaned.
        await this.addFinalizer(tc);
        return { requeueAfterMs: 0 };
      }
      const ingested = await this.ingest(tc, kind, store, state);
      credential = ingested.credential;
      ingestedSource = ingested.source;
      if (ingested.retryAfterMs !== undefined) requeueAfterMs = ingested.retryAfterMs;
    } else if (!kind) {
      state.set({
        type: 'Stored',
        status: 'True',
        reason: 'NothingToStore',
        message: 'assumeRole stores nothing long-lived',
      });
    }

    const stored = conditionOf(state.status.conditions, 'Stored')?.status === 'True';
    if (stored) {
      const next = await this.validate(tc, kind, credential, state);
      requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, next);
      const rotationCheck = this.checkRotation(tc, kind, state);
      if (rotationCheck !== undefined) requeueAfterMs = Math.min(requeueAfterMs, rotationCheck);
    } else {
      state.set({
        type: 'Validated',
        status: 'Unknown',
        reason: 'NotStored',
        message: 'nothing to validate until the credential is stored',
      });
    }
    state.pruneAccessRequests();
    state.setReady();

    await this.writeStatus(tc, state);
    if (ingestedSource && tc.spec.credentialsSecretRef?.deletionPolicy !== 'Retain') {
      await this.deleteSource(tc, ingestedSource, state);
    }
    return Number.isFinite(requeueAfterMs ?? Infinity) ? { requeueAfterMs: requeueAfterMs! } : {};
  }

  /** Reads the source, stores a new version if it changed; returns the credential in force and the Secret it came from. */
  private async ingest(
    tc: ToolConnection,
    kind: 'aws/accessKey' | 'generic',
    store: SecretStore,
    state: StatusDraft,
  ): Promise<{ credential?: Credential; source?: V1Secret; retryAfterMs?: number }> {
    const ref: SecretRef = { tenant: tc.metadata.namespace!, name: tc.metadata.name! };
    const source = await this.readSource(tc);
    if (!source) {
      if (state.status.storeVersion)
        return { credential: await this.openStored(ref, store, state.status.storeVersion) };
      const message = `Secret ${tc.spec.credentialsSecretRef!.name} not found in namespace ${ref.tenant}; create it (or use kubectl courier connect)`;
      state.set({ type: 'Stored', status: 'False', reason: 'SourceSecretMissing', message });
      return { retryAfterMs: MISSING_SOURCE_RETRY_MS };
    }
    let credential: Credential;
    try {
      credential = await readCredential(tc, source, this.deps.keys.uploadKeys);
    } catch (error) {
      if (!(error instanceof SourceProblem)) throw error;
      state.set({ type: 'Stored', status: 'False', reason: error.reason, message: error.message });
      return {};
    }
    const fingerprint = await this.deps.keys.fingerprinter.fingerprint(kind, credential);
    if (fingerprint !== state.status.fingerprint || !state.status.storeVersion) {
      const version = await this.storeIfNew(ref, store, kind, credential, fingerprint);
      const newKey = fingerprint !== state.status.fingerprint;
      state.status.store = store.name;
      state.status.storeVersion = version;
      state.status.fingerprint = fingerprint;
      if (newKey && kind === 'aws/accessKey') state.status.keyCreatedTime = state.now.toISOString();
      if (newKey) {
        delete state.status.lastValidatedTime;
        this.audit('credential.stored', tc, { store: store.name, version, fingerprint });
      }
    }
    state.set({
      type: 'Stored',
      status: 'True',
      reason: 'Stored',
      message: `version ${state.status.storeVersion} in store ${store.name}`,
    });
    return { credential, source };
  }

  /** Writes a version unless the newest one already holds this credential (a crash before status was written). */
  private async storeIfNew(
    ref: SecretRef,
    store: SecretStore,
    kind: string,
    credential: Credential,
    fingerprint: string,
  ): Promise<string> {
    const latest = await store.get(ref).catch((error: unknown) => {
      if (isStoreError(error, 'NotFound')) return undefined;
      throw error;
    });
    if (latest) {
      const existing = await this.deps.keys.sealer.open(latest.payload, ref);
      if ((await this.deps.keys.fingerprinter.fingerprint(kind, existing)) === fingerprint) return latest.version;
    }
    const sealed = await this.deps.keys.sealer.seal(credential, ref);
    const written = await store.putVersion(ref, sealed, { expectedCurrent: latest?.version ?? null });
    return written.version;
  }

  private async openStored(ref: SecretRef, store: SecretStore, version: string): Promise<Credential> {
    return this.deps.keys.sealer.open((await store.get(ref, version)).payload, ref);
  }

  /** Validates when due; returns the delay until the next validation. */
  private async validate(
    tc: ToolConnection,
    kind: string | undefined,
    credential: Credential | undefined,
    state: StatusDraft,
  ): Promise<number> {
    const intervalMs = parseDuration(tc.spec.validation?.interval ?? '6h') ?? 6 * 3_600_000;
    const validated = conditionOf(state.status.conditions, 'Validated');
    const last = state.status.lastValidatedTime ? new Date(state.status.lastValidatedTime).getTime() : 0;
    const current = validated?.observedGeneration === tc.metadata.generation && validated?.status !== 'Unknown';
    const dueAt = last + intervalMs;
    if (current && last > 0 && dueAt > state.now.getTime()) return dueAt - state.now.getTime();

    if (tc.spec.provider === 'generic') {
      state.set({
        type: 'Validated',
        status: 'True',
        reason: 'ShapeValid',
        message: 'the credential has the fields it needs',
      });
    } else {
      try {
        const needsKey = kind === 'aws/accessKey';
        const stored =
          needsKey && !credential
            ? await this.openStored(
                this.refOf(tc),
                this.deps.stores.get(state.status.store),
                state.status.storeVersion!,
              )
            : credential;
        const identity = await validateAws(tc, stored, this.deps.sts);
        state.status.accountId = identity.accountId;
        state.status.arn = identity.arn;
        state.set({
          type: 'Validated',
          status: 'True',
          reason: 'CallerIdentityConfirmed',
          message: `reaches ${identity.arn}`,
        });
      } catch (error) {
        if (!(error instanceof AwsValidationError)) throw error;
        state.set({ type: 'Validated', status: 'False', reason: error.code, message: error.message });
      }
    }
    state.status.lastValidatedTime = state.now.toISOString();
    const result = conditionOf(state.status.conditions, 'Validated')?.status ?? 'Unknown';
    this.deps.validations?.inc({ provider: tc.spec.provider, result });
    this.deps.logger.info(
      { toolConnection: keyOfTc(tc), validated: conditionOf(state.status.conditions, 'Validated')?.status },
      'validated',
    );
    const jitter = 1 + (Math.random() * 2 - 1) * VALIDATION_JITTER;
    return Math.round(intervalMs * jitter);
  }

  /** RotationDue for access keys; returns when to check again, if ever. */
  private checkRotation(tc: ToolConnection, kind: string | undefined, state: StatusDraft): number | undefined {
    if (kind !== 'aws/accessKey' || !state.status.keyCreatedTime) {
      state.remove('RotationDue');
      return undefined;
    }
    const maxAgeMs = parseDuration(tc.spec.rotation?.maxKeyAge ?? '90d') ?? 90 * 86_400_000;
    const dueAt = new Date(state.status.keyCreatedTime).getTime() + maxAgeMs;
    const remaining = dueAt - state.now.getTime();
    if (remaining <= 0) {
      state.set({
        type: 'RotationDue',
        status: 'True',
        reason: 'KeyTooOld',
        message: `the access key is older than ${tc.spec.rotation?.maxKeyAge ?? '90d'}; create a new key and update the source Secret`,
      });
      return undefined;
    }
    state.set({
      type: 'RotationDue',
      status: 'False',
      reason: 'KeyYoungEnough',
      message: `due ${new Date(dueAt).toISOString()}`,
    });
    return remaining;
  }

  private async finalize(tc: ToolConnection): Promise<ReconcileResult> {
    if (!tc.metadata.finalizers?.includes(FINALIZER)) return {};
    const store = this.deps.stores.get(tc.status?.store ?? tc.spec.store);
    try {
      await store.delete(this.refOf(tc));
    } catch (error) {
      await this.deps.events.record(
        tc,
        'Warning',
        'DeleteFailed',
        'Delete',
        `could not delete the upstream secret in store ${store.name}; retrying`,
      );
      throw error;
    }
    this.audit('credential.deleted', tc, { store: store.name });
    const finalizers = tc.metadata.finalizers.filter((f) => f !== FINALIZER);
    await this.patch(tc, [
      { op: 'test', path: '/metadata/resourceVersion', value: tc.metadata.resourceVersion },
      { op: 'replace', path: '/metadata/finalizers', value: finalizers },
    ]);
    return {};
  }

  private async addFinalizer(tc: ToolConnection): Promise<void> {
    await this.patch(tc, [
      { op: 'test', path: '/metadata/resourceVersion', value: tc.metadata.resourceVersion },
      tc.metadata.finalizers
        ? { op: 'add', path: '/metadata/finalizers/-', value: FINALIZER }
        : { op: 'add', path: '/metadata/finalizers', value: [FINALIZER] },
    ]);
  }

  private patch(tc: ToolConnection, body: object[]): Promise<unknown> {
    return this.objects.patchNamespacedCustomObject({
      ...RESOURCE,
      namespace: tc.metadata.namespace!,
      name: tc.metadata.name!,
      body,
    });
  }

  private async readSource(tc: ToolConnection): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({
        name: tc.spec.credentialsSecretRef!.name,
        namespace: tc.metadata.namespace!,
      });
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  /** Deletes the very Secret that was ingested (uid and resourceVersion preconditions). */
  private async deleteSource(tc: ToolConnection, source: V1Secret, state: StatusDraft): Promise<void> {
    if (!source.metadata?.uid) return;
    try {
      await this.core.deleteNamespacedSecret({
        name: source.metadata.name!,
        namespace: tc.metadata.namespace!,
        body: { preconditions: { uid: source.metadata.uid, resourceVersion: source.metadata.resourceVersion! } },
      });
      await this.deps.events.record(
        tc,
        'Normal',
        'SourceDeleted',
        'Ingest',
        `stored as version ${state.status.storeVersion}; deleted Secret ${source.metadata.name}`,
      );
    } catch (error) {
      // Changed since it was read: the next reconcile ingests the new content.
      if (!(error instanceof ApiException && (error.code === 409 || error.code === 404))) throw error;
    }
  }

  private async writeStatus(tc: ToolConnection, state: StatusDraft): Promise<void> {
    const before = tc.status?.conditions;
    if (!(await writeStatusIfChanged(this.objects, RESOURCE, tc, state.status))) return;
    for (const condition of state.status.conditions ?? []) {
      const previous = conditionOf(before, condition.type);
      if (previous?.status === condition.status && previous.reason === condition.reason) continue;
      const warning = condition.status === (condition.type === 'RotationDue' ? 'True' : 'False');
      if (condition.type === 'Ready' || (!warning && !previous)) continue;
      await this.deps.events.record(
        tc,
        warning ? 'Warning' : 'Normal',
        condition.reason,
        condition.type,
        condition.message,
      );
    }
  }

  private audit(action: string, tc: ToolConnection, fields: Record<string, unknown>): void {
    this.deps.logger.info(
      { audit: true, action, namespace: tc.metadata.namespace, toolConnection: tc.metadata.name, ...fields },
      action,
    );
  }

  private refOf(tc: ToolConnection): SecretRef {
    return { tenant: tc.metadata.namespace!, name: tc.metadata.name! };
  }
}

/** The status being built during one reconcile. */
class StatusDraft {
  readonly status: ToolConnectionStatus;
  readonly now: Date;
  private readonly generation: number;

  constructor(tc: ToolConnection, now: Date) {
    this.status = structuredClone(tc.status ?? {});
    this.generation = tc.metadata.generation ?? 0;
    this.status.observedGeneration = this.generation;
    this.now = now;
  }

  set(update: ConditionUpdate): void {
    this.status.conditions = setCondition(
      this.status.conditions as V1Condition[] | undefined,
      update,
      this.generation,
      this.now,
    );
  }

  remove(type: string): void {
    this.status.conditions = this.status.conditions?.filter((c) => c.type !== type);
  }

  setReady(): void {
    const blocking = (this.status.conditions ?? []).find(
      (c) => (c.type === 'Stored' || c.type === 'Validated') && c.status !== 'True',
    );
    this.set(
      blocking
        ? { type: 'Ready', status: 'False', reason: blocking.reason, message: `${blocking.type}: ${blocking.message}` }
        : { type: 'Ready', status: 'True', reason: 'Ready', message: 'stored and validated' },
    );
  }

  pruneAccessRequests(): void {
    const cutoff = this.now.getTime() - ACCESS_REQUEST_TTL_MS;
    const kept = (this.status.accessRequests ?? []).filter((r) => new Date(r.lastTime).getTime() >= cutoff);
    if (kept.length > 0) this.status.accessRequests = kept;
    else delete this.status.accessRequests;
  }
}

const keyOfTc = (tc: ToolConnection) => `${tc.metadata.namespace}/${tc.metadata.name}`;
