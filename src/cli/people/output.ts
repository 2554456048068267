// What people commands print: kubectl-like tables, ages, and objects as JSON
// or YAML for scripts.
import { stringify } from 'yaml';

export type DataFormat = 'json' | 'yaml';

/** Objects as `kubectl get -o json|yaml` prints several: one v1 List. */
export function formatList(items: readonly object[], format: DataFormat): string {
  const list = { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items };
  return format === 'json' ? `${JSON.stringify(list, null, 4)}\n` : stringify(list);
}

/** Columns padded to their widest cell, three spaces apart, as kubectl prints them. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('   ')
      .trimEnd();
  return [header, ...rows].map(line).join('\n') + '\n';
}

/** How long ago (or, for a future time, how soon) as kubectl writes ages: 45s, 5m10s, 3h, 2d5h, 40d. */
export function formatAge(time: string | Date | undefined, now: Date): string {
  if (time === undefined) return '<none>';
  const ms = now.getTime() - new Date(time).getTime();
  if (Number.isNaN(ms)) return '<invalid>';
  const text = humanDuration(Math.abs(ms));
  return ms < 0 ? `in ${text}` : text;
}

function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(minutes / 60);
  const days = Math.floor(hours / 24);
  if (seconds < 120) return `${seconds}s`;
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (hours < 3) return `${minutes}m`;
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (days < 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  return `${days}d`;
}
