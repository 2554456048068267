// `courier agent` as the kubelet runs it: a real process, real signals, exit codes.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MAIN, runToEnd, type RunningComponent } from '../../test/support/component.ts';
import { start } from '../../test/support/started-components.ts';
import { CA_FILE, CREDENTIALS_DIR, TOKEN_FILE } from '../api/v1alpha1/delivery.ts';
import { agentOptions } from '../config/commands.ts';
import type { CertificateAuthority } from '../crypto/pki.ts';
import { FakeBroker, writeCaFile, type Answer } from './testing/fake-broker.ts';
import { secretValue, tmpfsDir, waitFor } from './testing/support.ts';

const TEST_TIMEOUT_MS = 30_000;
/** "Well under a second" from SIGTERM to exit, with room for a busy 2-core machine. */
const PROMPT_EXIT_MS = 1_000;

let broker: FakeBroker;
let ca: CertificateAuthority;
beforeAll(async () => {
  ({ broker, ca } = await FakeBroker.start());
});
afterAll(() => broker.stop());

let dir: string;
let outputDir: string;
let remove: () => Promise<void>;
let token: string;
let flags: string[];
let secrets: string[];
beforeEach(async () => {
  ({ dir, remove } = await tmpfsDir());
  outputDir = path.join(dir, 'out');
  token = secretValue('token');
  await writeFile(path.join(dir, 'token'), token);
  flags = [
    '--broker-url',
    broker.url,
    '--token-file',
    path.join(dir, 'token'),
    '--ca-file',
    await writeCaFile(dir, ca),
    '--output-dir',
    outputDir,
  ];
  broker.requests.length = 0;
  secrets = [token];
});
afterEach(() => remove());

function genericAnswer(connection: string): Answer {
  const password = secretValue('password');
  secrets.push(password);
  return { status: 200, body: { connection, kind: 'generic', generic: { purpose: 'ssh', fields: { password } } } };
}

function expectNoSecretLogged(agent: RunningComponent): void {
  expect(agent.records.length).toBeGreaterThan(0);
  for (const record of agent.records) {
    const line = JSON.stringify(record);
    for (const secret of secrets) expect(line).not.toContain(secret);
    expect(line).not.toContain('[REDACTED]');
  }
}

async function stopWithSigterm(agent: RunningComponent): Promise<{ code: number | null; ms: number }> {
  const stopping = performance.now();
  agent.child.kill('SIGTERM');
  const code = await agent.exitCode();
  return { code, ms: performance.now() - stopping };
}

describe('courier agent (process)', () => {
  it(
    'as a sidecar, writes the files and the marker, then exits 0 promptly on SIGTERM',
    async () => {
      const expiration = new Date(Date.now() + 3_600_000).toISOString();
      broker.handler = (request) => ({
        status: 200,
        body: { ...(genericAnswer(request.body.connection).body as object), expiration },
      });
      const agent = start(['agent', '--mode', 'sidecar', '--connections', 'db,ssh', '--file-mode', '0440', ...flags]);
      await agent.waitForLog('keeping the credentials fresh until SIGTERM');
      expect((await readdir(outputDir)).sort()).toEqual(['.courier-ready', 'db', 'ssh']);
      expect((await stat(path.join(outputDir, 'db', 'password'))).mode & 0o777).toBe(0o440);
      expect((await stat(path.join(outputDir, 'db'))).mode & 0o777).toBe(0o750);

      const { code, ms } = await stopWithSigterm(agent);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(PROMPT_EXIT_MS);
      expect(agent.records.map((record) => record.msg)).toEqual(
        expect.arrayContaining(['starting agent', 'credentials ready', 'shutting down', 'agent exiting']),
      );
      expectNoSecretLogged(agent);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'as a sidecar, exits 0 promptly on SIGTERM while a request to the broker is in flight',
    async () => {
      broker.handler = () => ({ status: 200, hang: true });
      const agent = start(['agent', '--mode', 'sidecar', '--connections', 'db', ...flags]);
      await waitFor('the request', () => broker.requests.length === 1, 20_000);
      const { code, ms } = await stopWithSigterm(agent);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(PROMPT_EXIT_MS);
      await expect(readdir(outputDir)).rejects.toThrow('ENOENT');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'as an init container, writes the files and exits 0 by itself',
    async () => {
      broker.handler = (request) => genericAnswer(request.body.connection);
      const agent = start(['agent', '--mode', 'init', '--connections', 'db', ...flags]);
      expect(await agent.exitCode()).toBe(0);
      expect(await readFile(path.join(outputDir, 'db', 'password'), 'utf8')).toBe(secrets[1]);
      expect((await stat(path.join(outputDir, 'db', 'password'))).mode & 0o777).toBe(0o400);
      expect((await stat(path.join(outputDir, '.courier-ready'))).isFile()).toBe(true);
      expect(broker.requests[0]?.authorization).toBe(`Bearer ${token}`);
      expectNoSecretLogged(agent);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'exits 1 on a 403 with one error line carrying the reason',
    async () => {
      broker.handler = () => ({
        status: 403,
        body: { code: 403, reason: 'ConnectionNotRequested', message: 'pod scan-1 did not opt in to "db"' },
      });
      const agent = start(['agent', '--mode', 'init', '--connections', 'db', ...flags]);
      expect(await agent.exitCode()).toBe(1);
      const errors = agent.records.filter((record) => record.level === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ connection: 'db', status: 403, reason: 'ConnectionNotRequested' });
      expect(errors[0]?.msg).toContain('HTTP 403 ConnectionNotRequested: pod scan-1 did not opt in to "db"');
      expect(broker.requests).toHaveLength(1);
      expectNoSecretLogged(agent);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'refuses a plain-http broker URL with exit code 2',
    async () => {
      const { code, stderr } = await runToEnd(MAIN, [
        'agent',
        '--mode',
        'init',
        '--connections',
        'db',
        ...flags,
        '--broker-url',
        'http://broker.example',
      ]);
      expect(code).toBe(2);
      expect(stderr).toBe(
        'courier: invalid --broker-url (COURIER_BROKER_URL): must be https, got http://broker.example\n',
      );
    },
    TEST_TIMEOUT_MS,
  );
});

describe('agent options', () => {
  it('default to the paths of the delivery contract', () => {
    expect(agentOptions.tokenFile.defaultValue).toBe(TOKEN_FILE);
    expect(agentOptions.caFile.defaultValue).toBe(CA_FILE);
    expect(agentOptions.outputDir.defaultValue).toBe(CREDENTIALS_DIR);
    expect(agentOptions.fileMode.defaultValue).toBe('0400');
    expect(agentOptions.retryTimeout.defaultValue).toBe('2m');
    expect(agentOptions.requestTimeout.defaultValue).toBe('10s');
  });
});
