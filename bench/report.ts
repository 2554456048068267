// Turns benchmark results (bench/results/*.json) into rows of the tables in
// bench/README.md: each table follows a `<!-- results: <benchmark> -->` line,
// and new rows go at its end, so hand-written rows and the prose around the
// tables stay. hack/bench.sh calls this with the files a run wrote.
//
//   node bench/report.ts [--print] <result.json>...
//
// --print writes the rows to stdout and leaves the README alone (quick runs).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../test/support/binaries.ts';

interface Result {
  benchmark: string;
  date: string;
  commit: string;
  machine: { cpuModel?: string; cpus: number; memoryGiB: number; node: string };
  loadAverage?: { start: number[]; end: number[] };
  [figure: string]: unknown;
}

interface LoadRun {
  connections: number;
  rate?: number;
  perSecond: number;
  latencyMs: { p50: number; p99: number };
}

const README = path.join(REPO_ROOT, 'bench/README.md');

const day = (r: Result) => r.date.slice(0, 10);
const machine = (r: Result) =>
  `${r.machine.cpus} CPUs, ${r.machine.memoryGiB} GiB, Node ${r.machine.node.replace(/^v/, '')}`;
/** The one-minute load average before and after: how busy the machine was besides. */
const load = (r: Result) => (r.loadAverage ? `${r.loadAverage.start[0]} → ${r.loadAverage.end[0]}` : '—');
const ms = (value: number | undefined) => (value === undefined ? '—' : `${value} ms`);
const seconds = (value: unknown) => (typeof value === 'number' ? `${Math.round(value * 10) / 10} s` : '—');
const mib = (value: unknown) => (typeof value === 'number' ? `${value} MiB` : '—');
const row = (cells: unknown[]) => `| ${cells.map((cell) => String(cell ?? '—')).join(' | ')} |`;

/** The table rows for one result, by benchmark. */
export function rowsFor(r: Result): string[] {
  const head = [day(r), r.commit, machine(r), load(r)];
  switch (r.benchmark) {
    case 'webhook':
      return (r.runs as Array<LoadRun & { webhookCpuCores: number; webhookCpuMicrosPerReview: number }>).map((run) =>
        row([
          ...head,
          run.connections,
          run.perSecond,
          ms(run.latencyMs.p50),
          ms(run.latencyMs.p99),
          run.webhookCpuCores,
          `${run.webhookCpuMicrosPerReview} µs`,
          mib(r.webhookPeakRssMiB),
        ]),
      );
    case 'broker':
      return (
        r.runs as Array<LoadRun & { ownMs: { p50: number; p99: number }; managerCpuMicrosPerIssuance: number }>
      ).map((run) =>
        row([
          ...head,
          run.rate ? `open, ${run.rate}/s` : run.connections,
          run.perSecond,
          ms(run.latencyMs.p50),
          ms(run.latencyMs.p99),
          ms(run.ownMs.p50),
          ms(run.ownMs.p99),
          `${run.managerCpuMicrosPerIssuance} µs`,
          mib(r.managerPeakRssMiB),
        ]),
      );
    case 'controllers':
      return [
        row([
          ...head,
          r.connections,
          r.schedules,
          seconds(r.createSeconds),
          seconds(r.connectionsReadySeconds),
          seconds(r.schedulesReadySeconds),
          `${mib(r.managerPeakRssMiB)}${r.managerMaxOldSpaceMiB ? ` (old space capped at ${r.managerMaxOldSpaceMiB} MiB)` : ''}`,
        ]),
      ];
    case 'toolconnections':
      return [
        row([
          day(r),
          r.commit,
          machine(r),
          r.count,
          seconds(r.createSeconds),
          seconds(r.allReadySeconds),
          mib(r.managerPeakRssMiB),
        ]),
      ];
    case 'scanschedules': {
      const lag = r.lagMs as { p50: number; p99: number; max: number } | undefined;
      const s = (value: number | undefined) => (value === undefined ? '—' : `${Math.round(value / 100) / 10} s`);
      return [row([day(r), r.commit, r.count, r.workers ?? '—', s(lag?.p50), s(lag?.p99), s(lag?.max)])];
    }
    default:
      throw new Error(`no table for benchmark ${JSON.stringify(r.benchmark)}`);
  }
}

/** `readme` with `rows` added at the end of the table after `<!-- results: benchmark -->`. */
export function appendRows(readme: string, benchmark: string, rows: string[]): string {
  const lines = readme.split('\n');
  const marker = lines.indexOf(`<!-- results: ${benchmark} -->`);
  if (marker < 0) throw new Error(`bench/README.md has no "<!-- results: ${benchmark} -->" before a table`);
  let end = marker + 1;
  while (end < lines.length && !lines[end]!.startsWith('|')) end++;
  while (end < lines.length && lines[end]!.startsWith('|')) end++;
  lines.splice(end, 0, ...rows);
  return lines.join('\n');
}

if (import.meta.filename === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { print: { type: 'boolean', default: false } },
  });
  const results = await Promise.all(
    positionals.map(async (file) => JSON.parse(await readFile(file, 'utf8')) as Result),
  );
  results.sort((a, b) => a.date.localeCompare(b.date));
  let readme = await readFile(README, 'utf8');
  for (const result of results) {
    const rows = rowsFor(result);
    if (values.print) console.log(`${result.benchmark}\n${rows.join('\n')}`);
    else readme = appendRows(readme, result.benchmark, rows);
  }
  if (!values.print) await writeFile(README, readme);
}
