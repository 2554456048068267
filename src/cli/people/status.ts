// `status`: the ToolConnections and ScanSchedules of a namespace (or all) as
// two tables, then one line for each condition that needs a look (with its
// full message) and each pending access request. -o json|yaml prints the
// objects instead, as one List.
import { CustomObjectsApi, type V1Condition } from '@kubernetes/client-node';
import {
  GROUP,
  SCAN_SCHEDULES,
  TOOL_CONNECTIONS,
  VERSION,
  type ScanSchedule,
  type ToolConnection,
} from '../../api/v1alpha1/index.ts';
import type { StatusConfig } from '../../config/people-commands.ts';
import { ExitCode } from '../../runtime/exit-codes.ts';
import { connectToCluster } from './cluster.ts';
import { formatAge, formatList, renderTable } from './output.ts';
import type { Terminal } from './prompt.ts';

/** Condition types whose True means trouble; for every other type False (or Unknown) does. */
const TRUE_IS_TROUBLE = new Set(['RotationDue', 'RunSkipped']);

export async function showStatus(config: StatusConfig, terminal: Terminal): Promise<number> {
  const { kubeConfig, namespace } = connectToCluster(config);
  const objects = kubeConfig.makeApiClient(CustomObjectsApi);
  const list = async <T>(plural: string): Promise<T[]> => {
    const resource = { group: GROUP, version: VERSION, plural };
    const result = (
      config.allNamespaces
        ? await objects.listClusterCustomObject(resource)
        : await objects.listNamespacedCustomObject({ ...resource, namespace })
    ) as { items: T[] };
    return result.items;
  };
  const [connections, schedules] = await Promise.all([
    list<ToolConnection>(TOOL_CONNECTIONS.plural),
    list<ScanSchedule>(SCAN_SCHEDULES.plural),
  ]);
  if (config.output) {
    terminal.stdout.write(formatList([...sortByKey(connections), ...sortByKey(schedules)], config.output));
  } else {
    terminal.stdout.write(
      renderStatus(connections, schedules, { allNamespaces: config.allNamespaces, namespace, now: new Date() }),
    );
  }
  return ExitCode.ok;
}

export interface StatusView {
  allNamespaces: boolean;
  namespace: string;
  now: Date;
}

export function renderStatus(
  connections: readonly ToolConnection[],
  schedules: readonly ScanSchedule[],
  view: StatusView,
): string {
  const where = view.allNamespaces ? 'any namespace' : `namespace ${view.namespace}`;
  const withNamespace = (object: { metadata: { namespace?: string } }, cells: string[]) =>
    view.allNamespaces ? [object.metadata.namespace ?? '', ...cells] : cells;
  const header = (titles: string[]) => (view.allNamespaces ? ['NAMESPACE', ...titles] : titles);
  const sections: string[] = [];
  const notes: string[] = [];

  if (connections.length === 0) {
    sections.push(`No ToolConnections in ${where}.\n`);
  } else {
    const rows = sortByKey(connections).map((tc) => {
      const status = tc.status ?? {};
      notes.push(...conditionNotes(`toolconnection/${tc.metadata.name}`, tc, status.conditions));
      for (const request of status.accessRequests ?? []) {
        notes.push(
          `toolconnection/${tc.metadata.name}: service account ${request.serviceAccount} was refused ${request.count} time(s), last ${formatAge(request.lastTime, view.now)} ago${request.reason ? ` (${request.reason})` : ''}; add it to spec.access.serviceAccounts to grant it`,
        );
      }
      return withNamespace(tc, [
        tc.metadata.name ?? '',
        providerOf(tc),
        tc.spec.provider === 'aws' && tc.spec.aws?.authMethod === 'assumeRole'
          ? '-'
          : (status.store ?? tc.spec.store ?? '<default>'),
        conditionStatus(status.conditions, 'Ready'),
        conditionOf(status.conditions, 'Ready')?.reason ?? '',
        String(status.issuedCount ?? 0),
        status.lastIssuedTime ? formatAge(status.lastIssuedTime, view.now) : '<never>',
        formatAge(tc.metadata.creationTimestamp, view.now),
      ]);
    });
    sections.push(
      renderTable(
        header(['TOOLCONNECTION', 'PROVIDER', 'STORE', 'READY', 'REASON', 'ISSUED', 'LAST ISSUED', 'AGE']),
        rows,
      ),
    );
  }

  if (schedules.length === 0) {
    sections.push(`No ScanSchedules in ${where}.\n`);
  } else {
    const rows = sortByKey(schedules).map((ss) => {
      const status = ss.status ?? {};
      notes.push(...conditionNotes(`scanschedule/${ss.metadata.name}`, ss, status.conditions));
      if (status.missedRuns) {
        notes.push(
          `scanschedule/${ss.metadata.name}: ${status.missedRuns} scheduled run(s) missed (past startingDeadlineSeconds or while no manager ran)`,
        );
      }
      return withNamespace(ss, [
        ss.metadata.name ?? '',
        ss.spec.schedule + (ss.spec.timeZone ? ` ${ss.spec.timeZone}` : ''),
        ss.spec.suspend ? 'True' : 'False',
        conditionStatus(status.conditions, 'Ready'),
        String(status.active?.length ?? 0),
        status.lastScheduleTime ? formatAge(status.lastScheduleTime, view.now) : '<never>',
        status.lastSuccessfulTime ? formatAge(status.lastSuccessfulTime, view.now) : '<never>',
        status.nextScheduleTime ? formatAge(status.nextScheduleTime, view.now) : '<none>',
        formatAge(ss.metadata.creationTimestamp, view.now),
      ]);
    });
    sections.push(
      renderTable(
        header([
          'SCANSCHEDULE',
          'SCHEDULE',
          'SUSPEND',
          'READY',
          'ACTIVE',
          'LAST SCHEDULE',
          'LAST SUCCESS',
          'NEXT RUN',
          'AGE',
        ]),
        rows,
      ),
    );
  }
  if (notes.length > 0) sections.push(notes.map((note) => `${note}\n`).join(''));
  return sections.join('\n');
}

function providerOf(tc: ToolConnection): string {
  if (tc.spec.provider === 'aws') return `aws/${tc.spec.aws?.authMethod ?? '?'}`;
  return `generic/${tc.spec.generic?.purpose ?? '?'}`;
}

function conditionOf(conditions: readonly V1Condition[] | undefined, type: string): V1Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

function conditionStatus(conditions: readonly V1Condition[] | undefined, type: string): string {
  return conditionOf(conditions, type)?.status ?? 'Unknown';
}

/** One line per condition in trouble, with its message; stale ones say so. */
function conditionNotes(
  what: string,
  object: { metadata: { generation?: number } },
  conditions: readonly V1Condition[] | undefined,
): string[] {
  if (!conditions || conditions.length === 0) return [`${what}: no conditions yet (is the Courier manager running?)`];
  return conditions
    .filter((c) => c.type !== 'Ready')
    .filter((c) => (TRUE_IS_TROUBLE.has(c.type) ? c.status === 'True' : c.status !== 'True'))
    .map((c) => {
      const stale =
        c.observedGeneration !== undefined &&
        object.metadata.generation !== undefined &&
        c.observedGeneration < object.metadata.generation
          ? ' (from an older generation)'
          : '';
      return `${what}: ${c.type}=${c.status} (${c.reason})${stale}: ${c.message}`;
    });
}

function sortByKey<T extends { metadata: { namespace?: string; name?: string } }>(items: readonly T[]): T[] {
  const key = (item: T) => `${item.metadata.namespace ?? ''}/${item.metadata.name ?? ''}`;
  return [...items].sort((a, b) => key(a).localeCompare(key(b)));
}
