// Generated from crds/courier.dev_scanschedules.yaml by hack/gen-api.ts (npm run gen). Do not edit.
import type { V1Condition, V1JobSpec, V1ObjectMeta } from '@kubernetes/client-node';

/**
 * ScanSchedule runs a scan Job on a cron schedule (CronJob semantics) or on demand, and gives its pods the credentials of the named ToolConnections.
 */
export interface ScanSchedule {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec: ScanScheduleSpec;
  status?: ScanScheduleStatus;
}
export interface ScanScheduleSpec {
  /**
   * Cron expression with 5 fields (minute hour day-of-month month day-of-week) or @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly.
   */
  schedule: string;
  /**
   * IANA time zone name for the schedule, e.g. Europe/Berlin. Default UTC.
   */
  timeZone?: string;
  /**
   * Stop creating runs; active runs continue.
   */
  suspend?: boolean;
  /**
   * What to do when a run is due while another is active.
   */
  concurrencyPolicy?: 'Allow' | 'Forbid' | 'Replace';
  /**
   * How late a missed run may still start. Missed runs within the deadline run once; older ones are reported, not replayed.
   */
  startingDeadlineSeconds?: number;
  successfulJobsHistoryLimit?: number;
  failedJobsHistoryLimit?: number;
  /**
   * The ToolConnections (in this namespace) the scan uses.
   *
   * @minItems 1
   * @maxItems 16
   */
  connections: [ScanConnection, ...ScanConnection[]];
  jobTemplate: JobTemplate;
}
export interface ScanConnection {
  name: string;
  /**
   * Where the scan container finds the credential files. Default /var/run/courier/<name>.
   */
  mountPath?: string;
}
/**
 * The Job to create for each run, as in a CronJob.
 */
export interface JobTemplate {
  metadata?: {
    labels?: {
      [k: string]: string | undefined;
    };
    annotations?: {
      [k: string]: string | undefined;
    };
  };
  spec: V1JobSpec;
}
export interface ScanScheduleStatus {
  /**
   * The metadata.generation this status describes.
   */
  observedGeneration?: number;
  /**
   * Ready (the schedule parses; Suspended or Scheduled), and RunSkipped (why the last due run did not start: ConnectionNotReady, ConcurrencyForbid, InvalidJobTemplate; False with Started when it did). Missed runs are counted in missedRuns and reported by a MissedSchedule Event.
   */
  conditions?: V1Condition[];
  /**
   * The scheduled time of the latest due run, started or not.
   */
  lastScheduleTime?: string;
  /**
   * When the latest run that succeeded completed.
   */
  lastSuccessfulTime?: string;
  /**
   * When the next run is due; absent while suspended.
   */
  nextScheduleTime?: string;
  /**
   * The courier.dev/run-now token already acted on.
   */
  lastRunNowToken?: string;
  /**
   * Scheduled runs not started because they were older than startingDeadlineSeconds.
   */
  missedRuns?: number;
  /**
   * The Jobs of this schedule that are running.
   */
  active?: ActiveRun[];
}
export interface ActiveRun {
  name: string;
  uid?: string;
  scheduledTime?: string;
}
