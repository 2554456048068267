// Reads a V8 CPU profile (node --cpu-prof) and lists where the time went:
// functions by self time, and the same summed by package (a dependency under
// node_modules, Node's own code, or Courier's src/), within a time window
// when given — the benchmarks pass the span of their measured load, so start-up
// and idle time stay out.
//
//   node bench/cpu-profile.ts <file.cpuprofile> [--top 25] [--from <µs>] [--to <µs>]
//
// Times in the profile are CLOCK_MONOTONIC microseconds, the clock of
// process.hrtime, so another process's hrtime marks the window.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../test/support/binaries.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Hotspot {
  name: string;
  where: string;
  selfMs: number;
  percent: number;
}

export interface ProfileSummary {
  /** Sampled time in the window, idle included. */
  totalMs: number;
  /** Time the process had nothing to run. */
  idleMs: number;
  functions: Hotspot[];
  packages: Hotspot[];
}

/** Where a function lives, short: node_modules/<package>, node:<module>, or a path under the repository. */
function packageOf(url: string): string {
  if (!url) return '(V8 and native)';
  if (url.startsWith('node:')) return 'node (built-in)';
  const file = url.replace(/^file:\/\//, '');
  const modules = file.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = file.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const relative = path.relative(REPO_ROOT, file);
  return relative.startsWith('..') ? file : path.dirname(relative);
}

function location(frame: ProfileNode['callFrame']): string {
  if (!frame.url) return '';
  const file = frame.url.replace(/^file:\/\//, '');
  const modules = file.lastIndexOf('/node_modules/');
  const short = modules >= 0 ? file.slice(modules + '/node_modules/'.length) : path.relative(REPO_ROOT, file);
  return `${short}:${frame.lineNumber + 1}`;
}

const IDLE = new Set(['(idle)', '(program)']);

export interface Window {
  from: number;
  to: number;
}

export function summarize(profile: CpuProfile, top = 25, windows?: Window[]): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i]!;
    if (windows && !windows.some(({ from, to }) => at >= from && at <= to)) continue;
    // A sample's delta is the time since the previous one: charge it to this sample's function.
    const delta = profile.timeDeltas[i]!;
    selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + delta);
    total += delta;
  }
  const functions = new Map<string, Hotspot>();
  const packages = new Map<string, Hotspot>();
  let idle = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const name = frame.functionName || '(anonymous)';
    if (IDLE.has(name)) {
      idle += us;
      continue;
    }
    const where = location(frame);
    const fn = functions.get(`${name}\0${where}`) ?? { name, where, selfMs: 0, percent: 0 };
    fn.selfMs += us / 1000;
    functions.set(`${name}\0${where}`, fn);
    const pkg = packageOf(frame.url);
    const bucket = packages.get(pkg) ?? { name: pkg, where: '', selfMs: 0, percent: 0 };
    bucket.selfMs += us / 1000;
    packages.set(pkg, bucket);
  }
  const busy = (total - idle) / 1000;
  const rank = (items: Iterable<Hotspot>) =>
    [...items]
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top)
      .map((h) => ({ ...h, selfMs: Math.round(h.selfMs), percent: Math.round((h.selfMs / busy) * 1000) / 10 }));
  return {
    totalMs: Math.round(total / 1000),
    idleMs: Math.round(idle / 1000),
    functions: rank(functions.values()),
    packages: rank(packages.values()),
  };
}

/** Reads the one profile node --cpu-prof wrote into `dir` (for the process with `pid`). */
export async function readProfile(dir: string, pid: number): Promise<CpuProfile> {
  // CPU.<date>.<time>.<pid>.<thread>.<sequence>.cpuprofile
  const file = (await readdir(dir)).find((name) => name.endsWith('.cpuprofile') && name.split('.')[3] === String(pid));
  if (!file) throw new Error(`no CPU profile of process ${pid} in ${dir}`);
  return JSON.parse(await readFile(path.join(dir, file), 'utf8')) as CpuProfile;
}

/** The summary of the profile of process `pid` in `dir` over `windows`, also printed to stderr. */
export async function profileSummary(dir: string, pid: number, windows: Window[]): Promise<ProfileSummary> {
  const summary = summarize(await readProfile(dir, pid), 25, windows);
  process.stderr.write(
    `CPU profile of ${pid} in ${dir}: ${summary.totalMs} ms sampled, ${summary.idleMs} ms idle\n\n` +
      `${markdown(summary.functions)}\n\n${markdown(summary.packages, false)}\n`,
  );
  return summary;
}

/** Microseconds on the profile's clock, now. */
export function profileClockNow(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** A Markdown table of hotspots, percentages of busy (non-idle) time. */
export function markdown(hotspots: Hotspot[], withWhere = true): string {
  const rows = hotspots.map(
    (h) =>
      `| ${h.percent}% | ${h.selfMs} ms | \`${h.name}\`${withWhere && h.where ? ` | ${h.where}` : withWhere ? ' | ' : ''} |`,
  );
  const header = withWhere
    ? '| self | ms | function | where |\n| --- | --- | --- | --- |'
    : '| self | ms | package |\n| --- | --- | --- |';
  return [header, ...rows].join('\n');
}

if (import.meta.filename === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, from: { type: 'string' }, to: { type: 'string' } },
  });
  const profile = JSON.parse(await readFile(positionals[0]!, 'utf8')) as CpuProfile;
  const windows = values.from && values.to ? [{ from: Number(values.from), to: Number(values.to) }] : undefined;
  const summary = summarize(profile, Number(values.top), windows);
  console.log(`sampled ${summary.totalMs} ms, idle ${summary.idleMs} ms\n`);
  console.log(markdown(summary.functions));
  console.log();
  console.log(markdown(summary.packages, false));
}
