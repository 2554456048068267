// The ScanSchedule reconciler: creates a batch/v1 Job for each due run (cron
// or run-now), with CronJob's concurrency, deadline and history rules. Job
// names come from the scheduled minute (or the run-now token), so a second
// manager or a restarted one finds the Job already there instead of making
// another: creation is idempotent by name.
import { createHash } from 'node:crypto';
import { Counter, Histogram, type Registry } from 'prom-client';
import { ApiException, BatchV1Api, type KubeConfig, type V1Job, CustomObjectsApi } from '@kubernetes/client-node';
import {
  CONNECTIONS_ANNOTATION,
  GROUP,
  CONNECTION_PATHS_ANNOTATION,
  INJECT_LABEL,
  SCHEDULE_LABEL,
  RUN_NOW_ANNOTATION,
  SCAN_SCHEDULES,
  VERSION,
  type ScanSchedule,
  type ScanScheduleStatus,
  type ToolConnection,
} from '../../api/v1alpha1/index.ts';
import type { Logger } from '../../log/logger.ts';
import { isTrue, setCondition, type ConditionUpdate } from '../runtime/conditions.ts';
import { splitKey, type ObjectKey, type ReconcileResult, type Reconciler } from '../runtime/controller.ts';
import type { EventRecorder, EventType } from '../runtime/events.ts';
import { writeStatusIfChanged } from '../runtime/status.ts';
import type { ScheduleJobs } from './jobs.ts';
import { dueRuns, jobName, parseSchedule, type Schedule } from './schedule.ts';

export const SCHEDULED_TIME_ANNOTATION = 'courier.dev/scheduled-time';
const RESOURCE = { group: GROUP, version: VERSION, plural: SCAN_SCHEDULES.plural };

/** Records an Event about the schedule being reconciled; written alongside its status. */
type Note = (type: EventType, reason: string, action: string, message: string) => void;

export interface ScanScheduleReconcilerDeps {
  kubeConfig: KubeConfig;
  events: EventRecorder;
  logger: Logger;
  get(namespace: string, name: string): ScanSchedule | undefined;
  /** Reads a ToolConnection (the manager's: cache, then GET). */
  connection(namespace: string, name: string): Promise<ToolConnection | undefined>;
  /** The schedules' Jobs, from a cache that knows our own recent writes. */
  jobs: ScheduleJobs;
  metrics?: ScanMetrics;
  now?: () => Date;
}

export class ScanMetrics {
  readonly runs: Counter<'outcome'>;
  readonly lag: Histogram;

  constructor(registry: Registry) {
    this.runs = new Counter({
      name: 'courier_scan_runs_total',
      help: 'ScanSchedule runs by outcome: started, skipped (concurrency or connections), missed (past the deadline).',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.lag = new Histogram({
      name: 'courier_scan_schedule_lag_seconds',
      help: "Time from a run's scheduled time to its Job being created.",
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    });
  }
}

export class ScanScheduleReconciler implements Reconciler {
  private readonly deps: ScanScheduleReconcilerDeps;
  private readonly batch: BatchV1Api;
  private readonly objects: CustomObjectsApi;
  private readonly now: () => Date;

  constructor(deps: ScanScheduleReconcilerDeps) {
    this.deps = deps;
    this.batch = deps.kubeConfig.makeApiClient(BatchV1Api);
    this.objects = deps.kubeConfig.makeApiClient(CustomObjectsApi);
    this.now = deps.now ?? (() => new Date());
  }

  async reconcile(key: ObjectKey): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const ss = this.deps.get(namespace!, name);
    if (!ss || ss.metadata.deletionTimestamp) return {};
    const now = this.now();
    const status: ScanScheduleStatus = structuredClone(ss.status ?? {});
    status.observedGeneration = ss.metadata.generation ?? 0;
    const set = (update: ConditionUpdate) =>
      (status.conditions = setCondition(status.conditions, update, status.observedGeneration!, now));
    // Events go out with the status write, not one by one: when hundreds of
    // schedules fire together, each sequential round trip delays the next run.
    const events: Promise<void>[] = [];
    const note: Note = (type, reason, action, message) =>
      events.push(this.deps.events.record(ss, type, reason, action, message));

    let schedule: Schedule;
    try {
      schedule = parseSchedule(ss.spec.schedule, ss.spec.timeZone ?? 'UTC');
    } catch (error) {
      set({ type: 'Ready', status: 'False', reason: 'InvalidSchedule', message: (error as Error).message });
      await this.writeStatus(ss, status);
      return {};
    }

    const jobs = this.deps.jobs.owned(ss);
    const finished = (job: V1Job) =>
      job.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
    let active = jobs.filter((j) => !finished(j));
    const succeeded = jobs.filter((j) =>
      j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'),
    );
    const lastSuccess = succeeded
      .map((j) => j.status?.completionTime)
      .filter((t): t is Date => !!t)
      .sort((a, b) => +new Date(b) - +new Date(a))[0];
    if (lastSuccess) status.lastSuccessfulTime = new Date(lastSuccess).toISOString();
    await this.pruneHistory(ss, jobs, finished);

    // On demand: each new run-now token runs once.
    const token = ss.metadata.annotations?.[RUN_NOW_ANNOTATION];
    if (token && token !== status.lastRunNowToken) {
      active = await this.run(ss, active, now, `${ss.metadata.name!.slice(0, 40)}-now-${hash(token)}`, set, note);
      status.lastRunNowToken = token;
    }

    if (!ss.spec.suspend) {
      const since = new Date(status.lastScheduleTime ?? ss.metadata.creationTimestamp ?? now);
      const due = dueRuns(schedule, since, now);
      if (due.latest) {
        const deadlineMs =
          ss.spec.startingDeadlineSeconds === undefined ? Infinity : ss.spec.startingDeadlineSeconds * 1000;
        let missed = due.skipped;
        if (now.getTime() - due.latest.getTime() > deadlineMs) {
          missed++;
        } else {
          active = await this.run(ss, active, due.latest, jobName(ss.metadata.name!, due.latest), set, note);
        }
        if (missed > 0) {
          status.missedRuns = (status.missedRuns ?? 0) + missed;
          this.deps.metrics?.runs.inc({ outcome: 'missed' }, missed);
          note(
            'Warning',
            'MissedSchedule',
            'Schedule',
            `${missed} scheduled run(s) were not started: older than startingDeadlineSeconds or passed while the manager was away`,
          );
        }
        status.lastScheduleTime = due.latest.toISOString();
      }
    }

    status.active = active.map((j) => ({
      name: j.metadata!.name!,
      ...(j.metadata?.uid ? { uid: j.metadata.uid } : {}),
      ...(j.metadata?.annotations?.[SCHEDULED_TIME_ANNOTATION]
        ? { scheduledTime: j.metadata.annotations[SCHEDULED_TIME_ANNOTATION] }
        : {}),
    }));
    if (status.active.length === 0) delete status.active;
    const next = ss.spec.suspend ? undefined : schedule.next(now);
    if (next) status.nextScheduleTime = next.toISOString();
    else delete status.nextScheduleTime;
    set({
      type: 'Ready',
      status: 'True',
      reason: ss.spec.suspend ? 'Suspended' : 'Scheduled',
      message: next ? `next run ${next.toISOString()}` : 'suspended: no runs are scheduled',
    });
    await Promise.all([this.writeStatus(ss, status), ...events]);
    // A Job's changes (it finished, it was deleted) enqueue its schedule, so
    // only the next run needs a timer.
    return next ? { requeueAfterMs: Math.max(0, next.getTime() - now.getTime()) + 100 } : {};
  }

  /** Starts one run unless a connection is not Ready or concurrency forbids it; returns the active Jobs after. */
  private async run(
    ss: ScanSchedule,
    active: V1Job[],
    scheduledTime: Date,
    name: string,
    set: (u: ConditionUpdate) => void,
    note: Note,
  ): Promise<V1Job[]> {
    const notReady = [];
    for (const c of ss.spec.connections) {
      const tc = await this.deps.connection(ss.metadata.namespace!, c.name);
      if (!isTrue(tc?.status?.conditions, 'Ready')) notReady.push(c);
    }
    if (notReady.length > 0) {
      const message = `run ${name} skipped: ToolConnection ${notReady.map((c) => c.name).join(', ')} missing or not Ready`;
      set({ type: 'RunSkipped', status: 'True', reason: 'ConnectionNotReady', message });
      note('Warning', 'ConnectionNotReady', 'Run', message);
      this.deps.metrics?.runs.inc({ outcome: 'skipped' });
      return active;
    }
    const policy = ss.spec.concurrencyPolicy ?? 'Allow';
    const others = active.filter((j) => j.metadata?.name !== name);
    if (others.length > 0 && policy === 'Forbid') {
      const message = `run ${name} skipped: ${others.map((j) => j.metadata?.name).join(', ')} still running (concurrencyPolicy Forbid)`;
      set({ type: 'RunSkipped', status: 'True', reason: 'ConcurrencyForbid', message });
      note('Normal', 'ConcurrencyForbid', 'Run', message);
      this.deps.metrics?.runs.inc({ outcome: 'skipped' });
      return active;
    }
    if (others.length > 0 && policy === 'Replace') {
      for (const job of others) {
        await this.deleteJob(job);
        note('Normal', 'Replaced', 'Run', `deleted ${job.metadata!.name} to start ${name} (concurrencyPolicy Replace)`);
      }
    }
    const remaining = policy === 'Replace' ? active.filter((j) => j.metadata?.name === name) : active;
    let created: V1Job;
    try {
      created = await this.batch.createNamespacedJob({
        namespace: ss.metadata.namespace!,
        body: this.jobFor(ss, name, scheduledTime),
      });
    } catch (error) {
      // Created already: by us before a restart, or by another manager.
      if (error instanceof ApiException && error.code === 409) return active;
      // The schema admits templates the Job API refuses (a container named Scan_Tool): retrying
      // cannot help, so the run is skipped and the reason shown where people look.
      if (error instanceof ApiException && (error.code === 422 || error.code === 400)) {
        const message = `run ${name} skipped: the Job API refused jobTemplate: ${apiMessage(error)}`;
        set({ type: 'RunSkipped', status: 'True', reason: 'InvalidJobTemplate', message });
        note('Warning', 'InvalidJobTemplate', 'Run', message);
        this.deps.metrics?.runs.inc({ outcome: 'skipped' });
        return active;
      }
      throw error;
    }
    this.deps.jobs.observeCreated(created);
    set({ type: 'RunSkipped', status: 'False', reason: 'Started', message: `started ${name}` });
    this.deps.metrics?.runs.inc({ outcome: 'started' });
    this.deps.metrics?.lag.observe((this.now().getTime() - scheduledTime.getTime()) / 1000);
    note('Normal', 'RunStarted', 'Run', `created Job ${name} for ${scheduledTime.toISOString()}`);
    this.deps.logger.info(
      {
        scanSchedule: `${ss.metadata.namespace}/${ss.metadata.name}`,
        job: name,
        lagMs: this.now().getTime() - scheduledTime.getTime(),
      },
      'run started',
    );
    return [...remaining, created];
  }

  private jobFor(ss: ScanSchedule, name: string, scheduledTime: Date): V1Job {
    const template = structuredClone(ss.spec.jobTemplate);
    const podTemplate = template.spec.template;
    const paths = Object.fromEntries(ss.spec.connections.filter((c) => c.mountPath).map((c) => [c.name, c.mountPath!]));
    podTemplate.metadata = {
      ...podTemplate.metadata,
      labels: { ...podTemplate.metadata?.labels, [INJECT_LABEL]: 'true', [SCHEDULE_LABEL]: ss.metadata.name! },
      annotations: {
        ...podTemplate.metadata?.annotations,
        [CONNECTIONS_ANNOTATION]: ss.spec.connections.map((c) => c.name).join(','),
        ...(Object.keys(paths).length > 0 ? { [CONNECTION_PATHS_ANNOTATION]: JSON.stringify(paths) } : {}),
      },
    };
    return {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name,
        namespace: ss.metadata.namespace!,
        labels: { ...template.metadata?.labels, [SCHEDULE_LABEL]: ss.metadata.name! },
        annotations: { ...template.metadata?.annotations, [SCHEDULED_TIME_ANNOTATION]: scheduledTime.toISOString() },
        ownerReferences: [
          {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: SCAN_SCHEDULES.kind,
            name: ss.metadata.name!,
            uid: ss.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: template.spec,
    };
  }

  /** Deletes the oldest finished Jobs beyond the history limits. */
  private async pruneHistory(
    ss: ScanSchedule,
    jobs: V1Job[],
    finished: (j: V1Job) => boolean | undefined,
  ): Promise<void> {
    const byAge = (a: V1Job, b: V1Job) =>
      +new Date(b.metadata!.creationTimestamp!) - +new Date(a.metadata!.creationTimestamp!);
    const ok = jobs
      .filter((j) => finished(j) && j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'))
      .sort(byAge);
    const failed = jobs.filter((j) => finished(j) && !ok.includes(j)).sort(byAge);
    const excess = [
      ...ok.slice(ss.spec.successfulJobsHistoryLimit ?? 3),
      ...failed.slice(ss.spec.failedJobsHistoryLimit ?? 1),
    ];
    for (const job of excess) await this.deleteJob(job);
  }

  /** Deletes a Job and, in the background, its pods; one already gone is fine. */
  private async deleteJob(job: V1Job): Promise<void> {
    await this.batch
      .deleteNamespacedJob({
        name: job.metadata!.name!,
        namespace: job.metadata!.namespace!,
        propagationPolicy: 'Background',
      })
      .then(() => undefined, ignoreNotFound);
    this.deps.jobs.observeDeleted(job);
  }

  private async writeStatus(ss: ScanSchedule, status: ScanScheduleStatus): Promise<void> {
    await writeStatusIfChanged(this.objects, RESOURCE, ss, status);
  }
}

/** The apiserver's own explanation from an error response, else its status code. */
function apiMessage(error: ApiException<unknown>): string {
  try {
    const message = (JSON.parse(String(error.body)) as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  } catch {
    // Not a Status object: fall through.
  }
  return `HTTP ${error.code}`;
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 10);

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof ApiException && error.code === 404)) throw error;
}
