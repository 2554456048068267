// Runs the real entry points as child processes, as a user or kubelet would.
import { mkdtempSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { createCertificateAuthority, issueCertificate } from '../crypto/pki.ts';
import { KUBECTL_PLUGIN, LOCAL_EPHEMERAL, MAIN, runToEnd } from '../../test/support/component.ts';
import { freePort } from '../../test/support/ports.ts';
import { start } from '../../test/support/started-components.ts';

const TEST_TIMEOUT_MS = 20_000;
/** A kubeconfig whose apiserver refuses connections: a loopback port nothing listens on. */
const KUBECONFIG_NOWHERE = path.join(mkdtempSync(path.join(os.tmpdir(), 'courier-nowhere-')), 'kubeconfig');
beforeAll(async () => {
  const kubeConfig = new KubeConfig();
  const server = `https://127.0.0.1:${await freePort()}`;
  kubeConfig.loadFromClusterAndUser({ name: 'nowhere', server, skipTLSVerify: false }, { name: 'nobody' });
  await writeFile(KUBECONFIG_NOWHERE, kubeConfig.exportConfig());
});

describe('courier', () => {
  it('lists its commands in --help', async () => {
    const { code, stdout } = await runToEnd(MAIN, ['--help']);
    expect(code).toBe(0);
    for (const command of ['manager', 'webhook', 'agent', 'connect', 'run', 'status', 'doctor', 'rotate-keys']) {
      expect(stdout).toMatch(new RegExp(`^ {2}${command}\\b`, 'm'));
    }
  });

  it('exits 2 naming the flag and variable for a bad value, without a stack trace', async () => {
    const { code, stderr } = await runToEnd(MAIN, ['manager', '--metrics-bind-address', 'abc']);
    expect(code).toBe(2);
    expect(stderr).toBe(
      'courier: invalid --metrics-bind-address (COURIER_METRICS_BIND_ADDRESS): expected host:port such as ":8080" or "127.0.0.1:8080", got "abc"\n',
    );
  });

  it('exits 2 for a bad value from the environment', async () => {
    const { code, stderr } = await runToEnd(MAIN, ['manager'], { COURIER_SHUTDOWN_TIMEOUT: 'soon' });
    expect(code).toBe(2);
    expect(stderr).toContain('invalid --shutdown-timeout (COURIER_SHUTDOWN_TIMEOUT): expected a positive duration');
  });

  it('exits 2 for an unknown flag', async () => {
    const { code, stderr } = await runToEnd(MAIN, ['manager', '--no-such-flag']);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown option '--no-such-flag'");
  });

  it('exits 2 naming a kubeconfig that does not exist', async () => {
    const { code, stderr } = await runToEnd(MAIN, ['manager', '--kubeconfig', '/nonexistent/kubeconfig']);
    expect(code).toBe(2);
    expect(stderr).toBe('courier: invalid --kubeconfig (KUBECONFIG): no such file: "/nonexistent/kubeconfig"\n');
  });

  it.each([
    [['run'], "error: missing required argument 'schedule'"],
    [['connect'], 'Usage: courier connect [options] [command]'],
    [['connect', 'generic', 'Bad_Name'], 'courier: "Bad_Name" is not a ToolConnection name'],
    [['status', '-o', 'wide'], 'courier: invalid --output: expected one of json, yaml, got "wide"'],
    [
      ['status', '--context', 'nowhere', '--kubeconfig', KUBECONFIG_NOWHERE],
      'courier: kubeconfig has no context "nowhere"',
    ],
  ])('exits 2 for a people command used wrongly: %j', async (args, message) => {
    const { code, stdout, stderr } = await runToEnd(MAIN, args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(message);
  });

  it('prints one line, no stack trace, and exits 1 when the apiserver cannot be reached', async () => {
    const { code, stdout, stderr } = await runToEnd(MAIN, ['status', '--kubeconfig', KUBECONFIG_NOWHERE]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^courier: .*ECONNREFUSED.*\n$/);
  });

  it(
    'runs the webhook until SIGTERM, serving /healthz, then exits 0',
    async () => {
      // What the webhook needs to start: a serving pair and a kubeconfig (whose
      // apiserver need not answer: the webhook starts, unready, and retries).
      const dir = await mkdtemp(path.join(os.tmpdir(), 'courier-main-'));
      const ca = await createCertificateAuthority('courier-main-test', 1);
      const pair = await issueCertificate(ca, {
        commonName: 'courier-webhook',
        ipAddresses: ['127.0.0.1'],
        usage: 'server',
        validityDays: 1,
      });
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromClusterAndUser(
        { name: 'nowhere', server: 'https://127.0.0.1:1', skipTLSVerify: false },
        { name: 'nobody' },
      );
      await writeFile(path.join(dir, 'tls.crt'), pair.certPem);
      await writeFile(path.join(dir, 'tls.key'), pair.keyPem);
      await writeFile(path.join(dir, 'kubeconfig'), kubeConfig.exportConfig());
      const webhook = start([
        'webhook',
        ...LOCAL_EPHEMERAL,
        '--webhook-bind-address',
        '127.0.0.1:0',
        '--shutdown-timeout',
        '5s',
        '--tls-cert-file',
        path.join(dir, 'tls.crt'),
        '--tls-key-file',
        path.join(dir, 'tls.key'),
        '--kubeconfig',
        path.join(dir, 'kubeconfig'),
        '--agent-image',
        'ghcr.io/courier/courier:test',
        '--broker-url',
        'https://courier-broker.courier-system.svc',
      ]);
      const url = await webhook.healthProbeUrl();
      const health = await fetch(`${url}/healthz`);
      expect([health.status, await health.text()]).toEqual([200, 'ok']);
      await webhook.waitForLog('webhook started');

      const stopping = performance.now();
      webhook.child.kill('SIGTERM');
      expect(await webhook.exitCode()).toBe(0);
      expect(performance.now() - stopping).toBeLessThan(5_000);
      expect(webhook.records.map((record) => record.msg)).toEqual(
        expect.arrayContaining(['shutting down', 'shutdown complete']),
      );
      for (const record of webhook.records) {
        expect(record).toMatchObject({ level: expect.any(String), time: expect.any(String), component: 'webhook' });
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe('kubectl-courier', () => {
  it('offers the commands people run, under the kubectl name', async () => {
    const { code, stdout } = await runToEnd(KUBECTL_PLUGIN, ['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: kubectl courier [options] [command]');
    expect(stdout).toMatch(/^ {2}status\b/m);
    expect(stdout).not.toMatch(/^ {2}manager\b/m);
  });

  it('runs rotate-keys in the manager pod, and refuses it with nothing to rotate', async () => {
    const { code, stderr } = await runToEnd(KUBECTL_PLUGIN, ['rotate-keys', '--kubeconfig', KUBECONFIG_NOWHERE]);
    expect(code).toBe(2);
    expect(stderr).toBe('kubectl courier: say what to rotate: --kek, --tenants <namespaces> or --all-tenants\n');
  });

  it('says FAIL once and exits 1 when the apiserver does not answer', async () => {
    const { code, stdout } = await runToEnd(KUBECTL_PLUGIN, ['doctor', '--kubeconfig', KUBECONFIG_NOWHERE]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^FAIL {2}apiserver {2}cannot reach https:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*\n$/);
  });
});
