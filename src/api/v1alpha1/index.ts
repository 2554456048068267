// Courier's API, courier.dev/v1alpha1. The kinds' types are generated from
// crds/ (see hack/gen-api.ts); the names users see are fixed in DESIGN.md.
export type * from './toolconnection.generated.ts';
export type * from './scanschedule.generated.ts';

export const GROUP = 'courier.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const TOOL_CONNECTIONS = { kind: 'ToolConnection', plural: 'toolconnections' } as const;
export const SCAN_SCHEDULES = { kind: 'ScanSchedule', plural: 'scanschedules' } as const;

/** Label that opts a pod in to credential injection. */
export const INJECT_LABEL = 'courier.dev/inject';
/** Annotation listing the ToolConnections a pod wants, comma-separated. */
export const CONNECTIONS_ANNOTATION = 'courier.dev/connections';
/** Annotation on a ScanSchedule whose every new value starts one run. */
export const RUN_NOW_ANNOTATION = 'courier.dev/run-now';
/** Annotation, written by the ScanSchedule controller, mapping connection names to custom mount paths (JSON). */
export const CONNECTION_PATHS_ANNOTATION = 'courier.dev/connection-paths';
/** Label on a ScanSchedule's Jobs and pods naming the schedule (also an AWS session tag). */
export const SCHEDULE_LABEL = 'courier.dev/scan-schedule';
