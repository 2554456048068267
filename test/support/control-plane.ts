// A real Kubernetes control plane for tests, in the spirit of
// controller-runtime's envtest: etcd + kube-apiserver (+ kube-controller-manager
// when a suite asks) on free loopback ports, with client-certificate auth,
// RBAC, and service-account token issuance that works like a cluster's.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { createCertificateAuthority, issueCertificate, type KeyPairPem } from '../../src/crypto/pki.ts';
import { kubeBinaries, REPO_ROOT } from './binaries.ts';
import { freePort } from './ports.ts';

/** The issuer and audience of service-account tokens, as on a real cluster. */
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** What kube-controller-manager runs when a suite asks for it. */
export const DEFAULT_CONTROLLERS = [
  'job-controller',
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'root-ca-certificate-publisher-controller',
];

export interface ControlPlaneOptions {
  /** Start kube-controller-manager with these controllers (true: DEFAULT_CONTROLLERS). */
  controllerManager?: boolean | string[];
  /** Install crds/ and wait until they are established (default true). */
  installCrds?: boolean;
}

interface ManagedProcess {
  name: string;
  args: string[];
  child: ChildProcess;
  logPath: string;
  exited: Promise<number | null>;
}

export class ControlPlane {
  readonly logs: Record<string, string> = {};
  private readonly processes: ManagedProcess[] = [];

  readonly workDir: string;
  readonly binDir: string;
  readonly server: string;
  readonly kubeconfigPath: string;
  /** etcd's client URL, for tests that inspect what reached storage. */
  readonly etcdUrl: string;
  private readonly admin: KeyPairPem & { caPem: string };

  private constructor(
    fields: Pick<ControlPlane, 'workDir' | 'binDir' | 'server' | 'kubeconfigPath' | 'etcdUrl'> & {
      admin: KeyPairPem & { caPem: string };
    },
  ) {
    this.workDir = fields.workDir;
    this.binDir = fields.binDir;
    this.server = fields.server;
    this.kubeconfigPath = fields.kubeconfigPath;
    this.etcdUrl = fields.etcdUrl;
    this.admin = fields.admin;
  }

  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const binDir = await kubeBinaries('etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl');
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'courier-cp-'));
    const file = (name: string) => path.join(workDir, name);

    const ca = await createCertificateAuthority('courier-test-cluster-ca', 7);
    const serving = await issueCertificate(ca, {
      commonName: 'kube-apiserver',
      dnsNames: [
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
      ipAddresses: ['127.0.0.1', '10.0.0.1'],
      usage: 'server',
      validityDays: 7,
    });
    const admin = await issueCertificate(ca, {
      commonName: 'courier-test-admin',
      organizations: ['system:masters'],
      usage: 'client',
      validityDays: 7,
    });
    const serviceAccountKey = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    await Promise.all([
      writeFile(file('ca.crt'), ca.certPem),
      writeFile(file('apiserver.crt'), serving.certPem),
      writeFile(file('apiserver.key'), serving.keyPem, { mode: 0o600 }),
      writeFile(file('sa.pub'), serviceAccountKey.publicKey),
      writeFile(file('sa.key'), serviceAccountKey.privateKey, { mode: 0o600 }),
    ]);

    const [etcdClientPort, etcdPeerPort, apiserverPort] = [await freePort(), await freePort(), await freePort()];
    const server = `https://127.0.0.1:${apiserverPort}`;
    const kubeconfigPath = file('kubeconfig');
    await writeFile(kubeconfigPath, kubeconfigYaml(server, ca.certPem, admin), { mode: 0o600 });

    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const plane = new ControlPlane({
      workDir,
      binDir,
      server,
      kubeconfigPath,
      etcdUrl,
      admin: { ...admin, caPem: ca.certPem },
    });
    try {
      plane.launch('etcd', [
        `--data-dir=${file('etcd-data')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ]);
      await plane.waitFor('etcd', () => httpOk(`${etcdUrl}/health`));

      plane.launch('kube-apiserver', [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        // Loopback cannot back the kubernetes Service's endpoints; nothing here needs them.
        '--endpoint-reconciler-type=none',
        `--secure-port=${apiserverPort}`,
        `--cert-dir=${file('apiserver-certs')}`,
        `--tls-cert-file=${file('apiserver.crt')}`,
        `--tls-private-key-file=${file('apiserver.key')}`,
        `--client-ca-file=${file('ca.crt')}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-account-key-file=${file('sa.pub')}`,
        `--service-account-signing-key-file=${file('sa.key')}`,
        `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
        '--authorization-mode=RBAC',
        '--allow-privileged=true',
        '--v=1',
      ]);
      await plane.waitFor('kube-apiserver', () => plane.apiOk('/readyz'));

      if (options.controllerManager) {
        const controllers = options.controllerManager === true ? DEFAULT_CONTROLLERS : options.controllerManager;
        plane.launch('kube-controller-manager', [
          `--kubeconfig=${kubeconfigPath}`,
          `--authentication-kubeconfig=${kubeconfigPath}`,
          `--authorization-kubeconfig=${kubeconfigPath}`,
          `--controllers=${controllers.join(',')}`,
          '--bind-address=127.0.0.1',
          `--secure-port=${await freePort()}`,
          `--root-ca-file=${file('ca.crt')}`,
          `--service-account-private-key-file=${file('sa.key')}`,
          '--use-service-account-credentials=false',
          '--leader-elect=false',
          '--v=1',
        ]);
        // The default ServiceAccount appears once the controller runs.
        await plane.waitFor('kube-controller-manager', async () => {
          const result = await plane.kubectl(['get', 'serviceaccount', 'default', '-n', 'default'], { reject: false });
          return result.exitCode === 0;
        });
      }
      if (options.installCrds !== false) await plane.installCrds();
      return plane;
    } catch (error) {
      await plane.stop();
      throw error;
    }
  }

  /** The apiserver's /version, as the test log prints it. */
  async version(): Promise<{ gitVersion: string; platform: string }> {
    return JSON.parse(await this.apiGet('/version'));
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  /** Runs the pinned kubectl against this control plane. */
  kubectl(args: string[], options: KubectlOptions = {}): Promise<KubectlResult> {
    return runKubectl(this.binDir, this.kubeconfigPath, args, options);
  }

  async installCrds(): Promise<void> {
    await this.kubectl(['apply', '--server-side', '-f', path.join(REPO_ROOT, 'crds')]);
    await this.kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', path.join(REPO_ROOT, 'crds')]);
  }

  /** Stops every process, newest first, and removes the work directory. */
  async stop(): Promise<void> {
    for (const proc of [...this.processes].reverse()) {
      proc.child.kill('SIGTERM');
      const killer = setTimeout(() => proc.child.kill('SIGKILL'), 10_000);
      await proc.exited;
      clearTimeout(killer);
    }
    this.processes.length = 0;
    if (!process.env.COURIER_KEEP_CONTROL_PLANE) await rm(this.workDir, { recursive: true, force: true });
  }

  private launch(name: string, args: string[]): void {
    const logPath = path.join(this.workDir, `${name}.log`);
    const log = createWriteStream(logPath, { flags: 'a' });
    const child = spawn(path.join(this.binDir, name), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    this.logs[name] = logPath;
    this.processes.push({ name, args, child, logPath, exited });
  }

  /** Kills kube-apiserver and starts it again on the same port, as a crash would. */
  async restartApiServer(downtimeMs = 0): Promise<void> {
    const index = this.processes.findIndex((p) => p.name === 'kube-apiserver');
    const proc = this.processes[index];
    if (!proc) throw new Error('kube-apiserver is not running');
    // SIGKILL: a graceful stop waits for open watches to drain, up to a minute.
    proc.child.kill('SIGKILL');
    await proc.exited;
    this.processes.splice(index, 1);
    if (downtimeMs > 0) await sleep(downtimeMs);
    this.launch('kube-apiserver', proc.args);
    await this.waitFor('kube-apiserver', () => this.apiOk('/readyz'));
  }

  private async waitFor(name: string, ready: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
    const proc = this.processes.find((p) => p.name === name);
    const deadline = Date.now() + timeoutMs;
    let exitCode: number | null | undefined;
    void proc?.exited.then((code) => (exitCode = code ?? -1));
    while (Date.now() < deadline) {
      if (exitCode !== undefined) break;
      if (await ready().catch(() => false)) return;
      await sleep(200);
    }
    const tail = proc ? (await readFile(proc.logPath, 'utf8')).split('\n').slice(-30).join('\n') : '';
    const why = exitCode !== undefined ? `exited with code ${exitCode}` : `not ready after ${timeoutMs / 1000}s`;
    throw new Error(`${name} ${why}; last log lines:\n${tail}`);
  }

  private async apiOk(pathname: string): Promise<boolean> {
    return await this.apiGet(pathname).then(
      () => true,
      () => false,
    );
  }

  private apiGet(pathname: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const request = https.get(
        `${this.server}${pathname}`,
        { ca: this.admin.caPem, cert: this.admin.certPem, key: this.admin.keyPem, timeout: 5000 },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () =>
            response.statusCode === 200
              ? resolve(body)
              : reject(new Error(`${pathname}: ${response.statusCode} ${body}`)),
          );
        },
      );
      request.on('timeout', () => request.destroy(new Error(`${pathname}: timed out`)));
      request.on('error', reject);
    });
  }
}

export interface KubectlOptions {
  input?: string;
  /** Throw when kubectl fails (default true). */
  reject?: boolean;
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export async function runKubectl(
  binDir: string,
  kubeconfig: string,
  args: string[],
  options: KubectlOptions = {},
): Promise<KubectlResult> {
  const result = await execa(path.join(binDir, 'kubectl'), args, {
    ...(options.input !== undefined ? { input: options.input } : {}),
    reject: options.reject ?? true,
    env: { KUBECONFIG: kubeconfig },
  });
  return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode ?? -1 };
}

function httpOk(url: string): Promise<boolean> {
  return fetch(url, { signal: AbortSignal.timeout(2000) }).then(
    (r) => r.ok,
    () => false,
  );
}

function kubeconfigYaml(server: string, caPem: string, admin: KeyPairPem): string {
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'courier-test', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [
      { name: 'admin', user: { 'client-certificate-data': b64(admin.certPem), 'client-key-data': b64(admin.keyPem) } },
    ],
    contexts: [{ name: 'courier-test', context: { cluster: 'courier-test', user: 'admin', namespace: 'default' } }],
    'current-context': 'courier-test',
  });
}
