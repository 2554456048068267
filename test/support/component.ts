// Runs Courier's real entry points as child processes, as a user or the
// kubelet would, and collects their JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { REPO_ROOT } from './binaries.ts';

export const MAIN = path.join(REPO_ROOT, 'src/cli/main.ts');
export const KUBECTL_PLUGIN = path.join(REPO_ROOT, 'src/cli/kubectl-courier.ts');
/** Flags that put a component's listeners on free loopback ports. */
export const LOCAL_EPHEMERAL = ['--metrics-bind-address', '127.0.0.1:0', '--health-probe-bind-address', '127.0.0.1:0'];
/** The same for the manager, whose broker also listens, with certificates valid for loopback. */
export const MANAGER_EPHEMERAL = [
  ...LOCAL_EPHEMERAL,
  '--broker-bind-address',
  '127.0.0.1:0',
  '--tls-extra-sans',
  'localhost,127.0.0.1',
];

/** The parent's environment without anything that would configure Courier. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('COURIER_') && name !== 'KUBECONFIG'),
  );
  return { ...env, ...extra };
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function runToEnd(script: string, args: string[], env: Record<string, string> = {}): Promise<Finished> {
  const child = spawn(process.execPath, [script, ...args], { env: cleanEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

export type LogRecord = Record<string, unknown> & { msg: string };

/** A long-running component whose JSON log lines are collected as they arrive. */
export class RunningComponent {
  readonly child: ChildProcess;
  readonly records: LogRecord[] = [];
  readonly #closed: Promise<number | null>;
  #waiters: (() => void)[] = [];

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [MAIN, ...args], { env: cleanEnv(env) });
    this.#closed = once(this.child, 'close').then(([code]) => code as number | null);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.records.push(JSON.parse(line) as LogRecord);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  async waitForLog(msg: string): Promise<LogRecord> {
    for (;;) {
      const record = this.records.find((candidate) => candidate.msg === msg);
      if (record) return record;
      await Promise.race([
        new Promise<void>((resolve) => this.#waiters.push(resolve)),
        this.#closed.then((code) => {
          throw new Error(`exited with ${code} before logging "${msg}"`);
        }),
      ]);
    }
  }

  async healthProbeUrl(): Promise<string> {
    const { healthProbeAddress } = await this.waitForLog('serving metrics and health probes');
    return `http://${healthProbeAddress as string}`;
  }

  exitCode(): Promise<number | null> {
    return this.#closed;
  }
}
