// What every benchmark needs: a real control plane with `courier manager`
// watching one namespace, Courier processes to measure, and a place to write
// results with machine, commit and load average.
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync, closeSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { format, resolveConfig } from 'prettier';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../test/support/binaries.ts';
import { cleanEnv, MAIN, MANAGER_EPHEMERAL, RunningComponent, type LogRecord } from '../test/support/component.ts';
import { ControlPlane } from '../test/support/control-plane.ts';

export const BENCH_NAMESPACE = 'bench';

/**
 * What to stop if the benchmark is interrupted (SIGINT, SIGTERM — a timeout):
 * the control plane and the processes it started, which would otherwise
 * outlive it and load the machine for whoever measures next.
 */
const onInterrupt = new Set<() => Promise<unknown> | void>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`${signal}: stopping what the benchmark started\n`);
    void Promise.allSettled([...onInterrupt].map((stop) => stop())).then(() => process.exit(1));
  });
}
/** Before the benchmark loads anything: other work on the machine shows here (and at the end). */
const LOAD_AVERAGE_AT_START = os.loadavg();

/** A generic ToolConnection and the source Secret it ingests. */
export async function createGenericConnection(
  cluster: Pick<BenchCluster, 'core' | 'objects'>,
  name: string,
  password: string,
  access?: { serviceAccounts: string[] },
): Promise<void> {
  await cluster.core.createNamespacedSecret({
    namespace: BENCH_NAMESPACE,
    body: { metadata: { name: `${name}-src` }, stringData: { username: 'scanner', password } },
  });
  await createConnection(cluster, name, {
    provider: 'generic',
    generic: { purpose: 'ssh' },
    credentialsSecretRef: { name: `${name}-src` },
    ...(access ? { access } : {}),
  });
}

/** A ToolConnection in the benchmark namespace. */
export async function createConnection(
  cluster: Pick<BenchCluster, 'objects'>,
  name: string,
  spec: Record<string, unknown>,
): Promise<void> {
  await cluster.objects.createNamespacedCustomObject({
    group: 'courier.dev',
    version: 'v1alpha1',
    namespace: BENCH_NAMESPACE,
    plural: 'toolconnections',
    body: { apiVersion: 'courier.dev/v1alpha1', kind: 'ToolConnection', metadata: { name }, spec },
  });
}

/** Runs `run` over `items` with at most `limit` in flight. */
export async function inParallel<T>(items: T[], limit: number, run: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}

export interface BenchPlane {
  plane: ControlPlane;
  core: CoreV1Api;
  objects: CustomObjectsApi;
}

export interface BenchCluster extends BenchPlane {
  manager: RunningComponent;
}

/** Runs `body` against a fresh control plane with Courier's and the benchmark's namespaces, and tears it down. */
export async function withBenchPlane(body: (plane: BenchPlane) => Promise<void>): Promise<void> {
  const plane = await ControlPlane.start();
  const stopPlane = () => plane.stop();
  onInterrupt.add(stopPlane);
  try {
    const kc = plane.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const objects = kc.makeApiClient(CustomObjectsApi);
    for (const name of ['courier-system', BENCH_NAMESPACE])
      await core.createNamespace({ body: { metadata: { name } } });
    await body({ plane, core, objects });
  } finally {
    onInterrupt.delete(stopPlane);
    await plane.stop();
  }
}

/** Runs `body` against a fresh control plane and manager, and tears both down. */
export async function withBenchCluster(body: (cluster: BenchCluster) => Promise<void>): Promise<void> {
  await withBenchPlane(async ({ plane, core, objects }) => {
    const manager = new RunningComponent([
      'manager',
      ...MANAGER_EPHEMERAL,
      '--kubeconfig',
      plane.kubeconfigPath,
      '--watch-namespace',
      BENCH_NAMESPACE,
    ]);
    await manager.waitForLog('manager started');
    try {
      await body({ plane, core, objects, manager });
    } finally {
      manager.child.kill('SIGTERM');
      await manager.exitCode();
    }
  });
}

/** Writes the manager's configuration file into `dir`: the embedded kubernetes store, STS at `stsEndpoint`. */
export async function writeManagerConfig(dir: string, stsEndpoint: string): Promise<string> {
  const file = path.join(dir, 'courier.yaml');
  await writeFile(
    file,
    stringify({
      stores: [{ name: 'kubernetes', type: 'kubernetes' }],
      defaultStore: 'kubernetes',
      aws: { stsEndpoint },
    }),
  );
  return file;
}

/** `courier manager` on the bench plane watching the benchmark namespace, with AWS STS at `stsEndpoint`; resolves once started. */
export async function startManager(
  plane: ControlPlane,
  stsEndpoint: string,
  options: CourierProcessOptions = {},
): Promise<CourierProcess> {
  const config = await writeManagerConfig(plane.workDir, stsEndpoint);
  const manager = await CourierProcess.start(
    [
      'manager',
      ...MANAGER_EPHEMERAL,
      '--kubeconfig',
      plane.kubeconfigPath,
      '--watch-namespace',
      BENCH_NAMESPACE,
      '--config',
      config,
    ],
    // The manager's own AWS identity; the instant STS checks only that calls are signed.
    { ...options, env: { AWS_ACCESS_KEY_ID: 'AKIABENCH', AWS_SECRET_ACCESS_KEY: 'bench-secret', ...options.env } },
  );
  try {
    await manager.waitForLog('manager started');
  } catch (error) {
    await manager.stop();
    throw error;
  }
  return manager;
}

/** Waits until each named ToolConnection in the benchmark namespace is Ready. */
export async function waitReady(plane: ControlPlane, names: string[], timeout = '120s'): Promise<void> {
  await plane.kubectl([
    'wait',
    '-n',
    BENCH_NAMESPACE,
    '--for=condition=Ready',
    `--timeout=${timeout}`,
    ...names.map((n) => `toolconnection/${n}`),
  ]);
}

export interface CourierProcessOptions {
  /** Pin the process (every thread) to this CPU. */
  cpu?: number;
  env?: Record<string, string>;
  /** Write a V8 CPU profile (node --cpu-prof) into this directory when the process exits. */
  cpuProfileDir?: string;
}

const CLOCK_TICKS_PER_SECOND = Number(execSync('getconf CLK_TCK').toString().trim());

/**
 * A `courier` process under measurement. Unlike RunningComponent its log goes
 * to a file, not through this process: under load a component writes
 * thousands of lines a second, and parsing them here would take CPU from the
 * load generator.
 */
export class CourierProcess {
  readonly child: ChildProcess;
  readonly logPath: string;
  readonly #exited: Promise<number | null>;

  private constructor(child: ChildProcess, logPath: string) {
    this.child = child;
    this.logPath = logPath;
    const kill = () => void child.kill('SIGKILL');
    onInterrupt.add(kill);
    this.#exited = once(child, 'exit').then(([code]) => {
      onInterrupt.delete(kill);
      return code as number | null;
    });
  }

  /** Whether the process has exited (crashed, or was stopped). */
  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  static async start(args: string[], options: CourierProcessOptions = {}): Promise<CourierProcess> {
    const dir = await mkdtemp(path.join(os.tmpdir(), `courier-bench-${args[0]}-`));
    const logPath = path.join(dir, `${args[0]}.log`);
    const fd = openSync(logPath, 'a');
    const node = [
      process.execPath,
      ...(options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : []),
      MAIN,
      ...args,
    ];
    // taskset execs node, so the child's pid is node's.
    const command = options.cpu === undefined ? node : ['taskset', '-c', String(options.cpu), ...node];
    try {
      const child = spawn(command[0]!, command.slice(1), { env: cleanEnv(options.env), stdio: ['ignore', fd, fd] });
      return new CourierProcess(child, logPath);
    } finally {
      closeSync(fd);
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Every JSON log line written so far. */
  async records(): Promise<LogRecord[]> {
    const text = await readFile(this.logPath, 'utf8');
    return text
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogRecord);
  }

  async waitForLog(msg: string, timeoutMs = 120_000): Promise<LogRecord> {
    const deadline = Date.now() + timeoutMs;
    let exitCode: number | null | undefined;
    void this.#exited.then((code) => (exitCode = code));
    for (;;) {
      const record = (await this.records()).find((candidate) => candidate.msg === msg);
      if (record) return record;
      if (exitCode !== undefined || Date.now() > deadline) {
        const tail = (await readFile(this.logPath, 'utf8')).split('\n').slice(-20).join('\n');
        const why = exitCode !== undefined ? `exited with ${exitCode}` : `not logged within ${timeoutMs / 1000} s`;
        throw new Error(`courier ${this.child.spawnargs.join(' ')}: "${msg}" ${why}; last log lines:\n${tail}`);
      }
      await sleep(100);
    }
  }

  /** CPU time (user + system) the process has used so far, in seconds. */
  async cpuSeconds(): Promise<number> {
    const stat = await readFile(`/proc/${this.pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  }

  async peakRssMiB(): Promise<number> {
    return peakRssMiB(this.pid);
  }

  /** The process's resident set size now (VmRSS), MiB. */
  async rssMiB(): Promise<number> {
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
    return Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024);
  }

  /**
   * SIGTERM, and the exit code once it has shut down (a CPU profile is written
   * then). The log is removed after a clean exit (a busy manager's runs to
   * hundreds of MiB), kept after any other or with COURIER_BENCH_KEEP_LOGS set.
   */
  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 60_000);
    try {
      const code = await this.#exited;
      if (code === 0 && !process.env.COURIER_BENCH_KEEP_LOGS)
        await rm(path.dirname(this.logPath), { recursive: true, force: true });
      else
        process.stderr.write(`courier ${this.child.spawnargs.join(' ')} exited with ${code}; log: ${this.logPath}\n`);
      return code;
    } finally {
      clearTimeout(killer);
    }
  }
}

/** Where a Courier process's memory is, from its own /metrics (prom-client's defaults), MiB. */
export async function memoryBreakdown(metricsAddress: string): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${metricsAddress}/metrics`)).text();
  const value = (name: string) => {
    const match = new RegExp(`^courier_${name} (\\S+)$`, 'm').exec(text);
    return match ? Math.round(Number(match[1]) / 2 ** 20) : NaN;
  };
  return {
    heapUsedMiB: value('nodejs_heap_size_used_bytes'),
    heapTotalMiB: value('nodejs_heap_size_total_bytes'),
    externalMiB: value('nodejs_external_memory_bytes'),
  };
}

/** The process's peak resident set size (VmHWM), MiB. */
export async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** Pins this process (every thread) to one CPU: the load generator keeps off the measured process's core. */
export function pinThisProcess(cpu: number): void {
  execSync(`taskset -a -p -c ${cpu} ${process.pid}`, { stdio: 'ignore' });
}

/** Value at percentile `p` of ascending `sorted`. */
export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

/** Rounds to two decimals, for figures in milliseconds. */
export const round2 = (value: number): number => Math.round(value * 100) / 100;

/** Where results go: bench/results, or COURIER_BENCH_RESULTS (hack/bench.sh --quick points it elsewhere). */
export function resultsDir(): string {
  return process.env.COURIER_BENCH_RESULTS ?? path.join(REPO_ROOT, 'bench/results');
}

/** The commit, with "+" when src/ or crds/ differ from it: then the code measured is not exactly that commit. */
function measuredCommit(): string {
  const commit = execSync('git rev-parse --short HEAD', { cwd: REPO_ROOT }).toString().trim();
  const changed = execSync('git status --porcelain -- src crds', { cwd: REPO_ROOT }).toString().trim();
  return changed ? `${commit}+` : commit;
}

/**
 * Writes <results>/<name>-<UTC time>.json with the date, commit, machine and
 * load average at start and end, and prints it. One file per run: results
 * accumulate, and bench/report.ts turns them into the README's tables.
 */
export async function writeResult(name: string, figures: Record<string, unknown>): Promise<string> {
  const now = new Date();
  const cpu = os.cpus()[0];
  const result = {
    date: now.toISOString(),
    commit: measuredCommit(),
    machine: {
      cpuModel: cpu?.model.trim(),
      cpus: os.cpus().length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    // Other work on the machine (other builds, tests) makes figures noisy; this says how much there was.
    loadAverage: { start: LOAD_AVERAGE_AT_START.map(round2), end: os.loadavg().map(round2) },
    ...figures,
  };
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const file = path.join(resultsDir(), `${name}-${stamp}.json`);
  await mkdir(resultsDir(), { recursive: true });
  // As the repository's formatter writes JSON, so committed results pass `npm run lint`.
  await writeFile(file, await format(JSON.stringify(result), { ...(await resolveConfig(file)), parser: 'json' }));
  // hack/bench.sh reports exactly the files its own runs wrote, not others' written meanwhile.
  if (process.env.COURIER_BENCH_MANIFEST) await appendFile(process.env.COURIER_BENCH_MANIFEST, `${file}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return file;
}

export interface InstantSts {
  endpoint: string;
  /** Microseconds STS held each request, by the AccessKeyId it issued. */
  timings(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** Starts bench/instant-sts.ts as its own process, pinned to `cpu` when given. */
export async function startInstantSts(cpu?: number): Promise<InstantSts> {
  const node = [process.execPath, path.join(REPO_ROOT, 'bench/instant-sts.ts')];
  const command = cpu === undefined ? node : ['taskset', '-c', String(cpu), ...node];
  // Its stdin is a pipe from here: it exits when this process does, whatever the cause.
  const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const [line] = (await Promise.race([
    once(createInterface({ input: child.stdout! }), 'line'),
    exited.then(([code]) => {
      throw new Error(`bench/instant-sts.ts exited with ${code} before listening`);
    }),
  ])) as [string];
  const { endpoint } = JSON.parse(line) as { endpoint: string };
  return {
    endpoint,
    timings: async () => (await (await fetch(`${endpoint}/timings`)).json()) as Record<string, number>,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
