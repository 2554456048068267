// Real test peers for the secret-store tests (docs/test-peers.md): moto for
// AWS STS, Secrets Manager and KMS; an OpenBao dev server; the GCP Secret
// Manager emulator. Each start* installs its peer once into the cache through
// hack/peers.sh, runs it on a free 127.0.0.1 port with its log in a temp
// directory, and returns only once the peer answers real requests. A peer
// that cannot be installed or started throws with the tail of its log: the
// tests that need it fail, they never skip.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import * as grpc from '@grpc/grpc-js';
import { REPO_ROOT } from './binaries.ts';
import { freePort } from './ports.ts';

export type PeerName = 'moto' | 'openbao' | 'gcp-secret-manager-emulator';

export interface Peer {
  readonly name: PeerName;
  /** Where clients connect: a URL for moto and OpenBao, host:port for the emulator. */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** The peer's stdout and stderr; removed by stop(). */
  readonly logPath: string;
  /** SIGTERM, then SIGKILL after a timeout; then removes the temp directory. */
  stop(): Promise<void>;
}

export interface MotoPeer extends Peer {
  readonly region: string;
  /** Dummy credentials: moto accepts any, but the AWS SDK wants some. */
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface OpenBaoPeer extends Peer {
  readonly rootToken: string;
}

export interface GcpSecretManagerEmulatorPeer extends Peer {
  readonly host: string;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const START_ATTEMPTS = 3;
const INSTALL_TIMEOUT_MS = 20 * 60_000;

/** A pinned version from hack/versions.env, or the environment's override of it. */
export async function pinnedVersion(variable: string): Promise<string> {
  const fromEnv = process.env[variable];
  if (fromEnv) return fromEnv;
  const versions = await readFile(path.join(REPO_ROOT, 'hack/versions.env'), 'utf8');
  const match = new RegExp(String.raw`^: "\$\{${variable}:=([^}]*)\}"`, 'm').exec(versions);
  if (!match?.[1]) throw new Error(`hack/versions.env pins no ${variable}`);
  return match[1];
}

/** Finds or installs a peer through hack/peers.sh and returns its executable. */
export async function installPeer(name: PeerName, logPath?: string): Promise<string> {
  const result = await execa('bash', [path.join(REPO_ROOT, 'hack/peers.sh'), 'install', name], {
    all: true,
    reject: false,
    timeout: INSTALL_TIMEOUT_MS,
    ...(logPath ? { stderr: { file: logPath } } : {}),
  });
  const executable = result.stdout.trim().split('\n').pop();
  if (result.exitCode !== 0 || result.failed || !executable) {
    const log = logPath ? await readFile(logPath, 'utf8').catch(() => '') : (result.all ?? '');
    throw new Error(
      `hack/peers.sh install ${name} failed (${result.shortMessage ?? `exit ${result.exitCode}`}); last log lines:\n${tail(log)}`,
    );
  }
  return executable;
}

export interface MotoOptions {
  /**
   * Check credentials like AWS does after this many unauthenticated requests
   * (the ones that create the IAM users and keys a test needs). Moto accepts
   * any credentials when unset.
   */
  enforceAuthAfter?: number;
  /** The address to listen on; loopback by default. The e2e suite uses the node's address, which pods reach. */
  host?: string;
}

export async function startMoto(options: MotoOptions = {}): Promise<MotoPeer> {
  const host = options.host ?? HOST;
  const auth: Record<string, string> =
    options.enforceAuthAfter === undefined ? {} : { INITIAL_NO_AUTH_ACTION_COUNT: String(options.enforceAuthAfter) };
  const peer = await startPeer('moto', async (port) => ({
    args: ['-H', host, '-p', String(port)],
    env: { PYTHONUNBUFFERED: '1', ...auth },
    ready: () => httpOk(`http://${host}:${port}/moto-api/data.json`),
  }));
  return {
    ...peer,
    endpoint: `http://${host}:${peer.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'courier-test', secretAccessKey: 'courier-test' },
  };
}

export async function startOpenBao(): Promise<OpenBaoPeer> {
  const rootToken = `courier-test-root-${randomBytes(8).toString('hex')}`;
  const peer = await startPeer(
    'openbao',
    (port, workDir) => ({
      args: [
        'server',
        '-dev',
        `-dev-root-token-id=${rootToken}`,
        `-dev-listen-address=${HOST}:${port}`,
        // The dev server would otherwise write the token to ~/.bao-token.
        '-dev-no-store-token',
      ],
      // Its own HOME: nothing of the user's is read or written.
      env: { HOME: workDir },
      ready: () => httpOk(`http://${HOST}:${port}/v1/sys/health`),
    }),
    // Dev mode puts its cluster listener on the API port + 1.
    freePortPair,
  );
  return { ...peer, endpoint: `http://${HOST}:${peer.port}`, rootToken };
}

export async function startGcpSecretManagerEmulator(): Promise<GcpSecretManagerEmulatorPeer> {
  const peer = await startPeer('gcp-secret-manager-emulator', (port) => ({
    args: ['-listen', `${HOST}:${port}`],
    env: {},
    ready: () => secretManagerAnswers(`${HOST}:${port}`),
  }));
  return { ...peer, endpoint: `${HOST}:${peer.port}`, host: HOST };
}

interface Launch {
  args: string[];
  env: Record<string, string>;
  ready: () => Promise<boolean>;
}

async function startPeer(
  name: PeerName,
  launch: (port: number, workDir: string) => Launch | Promise<Launch>,
  pickPort: () => Promise<number> = freePort,
): Promise<Omit<Peer, 'endpoint'>> {
  const workDir = await mkdtemp(path.join(os.tmpdir(), `courier-${name}-`));
  try {
    const executable = await installPeer(name, path.join(workDir, 'install.log'));
    const logPath = path.join(workDir, `${name}.log`);
    for (let attempt = 1; ; attempt++) {
      const port = await pickPort();
      const { args, env, ready } = await launch(port, workDir);
      const running = spawnLogged(executable, args, { ...process.env, ...env }, logPath);
      const outcome = await waitUntilReady(running, ready);
      if (outcome === 'ready') {
        return {
          name,
          port,
          pid: running.child.pid ?? -1,
          logPath,
          stop: async () => {
            await terminate(running);
            if (!process.env.COURIER_KEEP_PEERS) await rm(workDir, { recursive: true, force: true });
          },
        };
      }
      await terminate(running);
      const log = await readFile(logPath, 'utf8').catch(() => '');
      // freePort cannot reserve a port: someone may have taken it since.
      if (outcome === 'exited' && /address already in use/i.test(log) && attempt < START_ATTEMPTS) continue;
      const why =
        outcome === 'exited' ? `exited with code ${running.exitCode}` : `not ready after ${READY_TIMEOUT_MS / 1000}s`;
      throw new Error(`${name} (${executable} ${args.join(' ')}) ${why}; last log lines:\n${tail(log)}`);
    }
  } catch (error) {
    if (!process.env.COURIER_KEEP_PEERS) await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  exitCode: number | string | null | undefined;
}

function spawnLogged(executable: string, args: string[], env: NodeJS.ProcessEnv, logPath: string): Running {
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn(executable, args, { stdio: ['ignore', fd, fd], env });
    const running: Running = { child, exitCode: undefined, exited: Promise.resolve() };
    running.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.exitCode = code ?? signal;
        resolve();
      });
      child.once('error', (error) => {
        running.exitCode = error.message;
        resolve();
      });
    });
    return running;
  } finally {
    closeSync(fd);
  }
}

async function waitUntilReady(
  running: Running,
  ready: () => Promise<boolean>,
): Promise<'ready' | 'exited' | 'timeout'> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (running.exitCode !== undefined) return 'exited';
    if (await ready().catch(() => false)) return 'ready';
    await sleep(200);
  }
  return running.exitCode !== undefined ? 'exited' : 'timeout';
}

async function terminate(running: Running): Promise<void> {
  if (running.exitCode !== undefined) return;
  running.child.kill('SIGTERM');
  const killer = setTimeout(() => running.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await running.exited;
  clearTimeout(killer);
}

/** A free loopback port whose successor is free too. */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    if (port < 65535 && (await portFree(port + 1))) return port;
  }
  throw new Error('found no two consecutive free loopback ports');
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

function httpOk(url: string): Promise<boolean> {
  return fetch(url, { signal: AbortSignal.timeout(2000) }).then(
    (response) => response.ok,
    () => false,
  );
}

/**
 * Whether a Secret Manager gRPC service answers ListSecrets at address. The
 * request is encoded by hand (field 1, `parent`, a string) so that readiness
 * needs only @grpc/grpc-js, not the Google client.
 */
function secretManagerAnswers(address: string): Promise<boolean> {
  const parent = Buffer.from('projects/courier-readiness');
  const request = Buffer.concat([Buffer.from([0x0a, parent.length]), parent]);
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<boolean>((resolve) => {
    client.makeUnaryRequest(
      '/google.cloud.secretmanager.v1.SecretManagerService/ListSecrets',
      (message: Buffer) => message,
      (bytes: Buffer) => bytes,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + 2000 },
      (error) => resolve(!error),
    );
  }).finally(() => client.close());
}

function tail(text: string, lines = 30, maxChars = 4000): string {
  const last = text.trimEnd().split('\n').slice(-lines).join('\n');
  return last.length > maxChars ? `…${last.slice(-maxChars)}` : last;
}
