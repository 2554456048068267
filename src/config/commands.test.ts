import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Command } from 'commander';
import { agentOptions, managerOptions, webhookOptions } from './commands.ts';
import { ConfigError } from './errors.ts';
import { addOptions, readConfig, type ConfigOf, type OptionTable } from './options.ts';

/** Parses `argv` as the named command would, with commander reading process.env. */
function load<T extends OptionTable>(table: T, argv: string[]): ConfigOf<T> {
  const command = addOptions(new Command('test'), table).exitOverride();
  command.parse(argv, { from: 'user' });
  return readConfig(table, command);
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const ENV_NAMES = [managerOptions, webhookOptions, agentOptions].flatMap((table) =>
  Object.values(table).map((spec) => spec.env),
);
let savedEnv: NodeJS.ProcessEnv;

beforeEach(() => {
  savedEnv = { ...process.env };
  for (const name of ENV_NAMES) delete process.env[name];
});

afterEach(() => {
  process.env = savedEnv;
});

const tempDir = mkdtempSync(join(tmpdir(), 'courier-config-'));
function tempFile(name: string): string {
  const path = join(tempDir, name);
  writeFileSync(path, 'content');
  return path;
}

describe('manager options', () => {
  it('has defaults for everything but --kubeconfig', () => {
    expect(load(managerOptions, [])).toEqual({
      logLevel: 'info',
      metricsBindAddress: { host: '', port: 8080 },
      healthProbeBindAddress: { host: '', port: 8081 },
      kubeconfig: undefined,
      namespace: 'courier-system',
      shutdownTimeout: 30_000,
      leaderElect: false,
      leaderElectionId: 'courier-manager',
      brokerBindAddress: { host: '', port: 8443 },
      brokerServiceName: 'courier-broker',
      webhookServiceName: 'courier-webhook',
      webhookConfigurationName: 'courier',
      manageCertificates: true,
      servingCertificateValidity: 90 * 86_400_000,
    });
  });

  it('reads every option from its environment variable', () => {
    const kubeconfig = tempFile('env-kubeconfig');
    Object.assign(process.env, {
      COURIER_LOG_LEVEL: 'debug',
      COURIER_METRICS_BIND_ADDRESS: '127.0.0.1:9090',
      COURIER_HEALTH_PROBE_BIND_ADDRESS: '[::1]:9091',
      KUBECONFIG: kubeconfig,
      COURIER_NAMESPACE: 'security',
      COURIER_SHUTDOWN_TIMEOUT: '1m30s',
      COURIER_LEADER_ELECT: 'true',
      COURIER_LEADER_ELECTION_ID: 'courier.example.com',
      COURIER_BROKER_BIND_ADDRESS: '0.0.0.0:9443',
      COURIER_BROKER_SERVICE_NAME: 'broker',
      COURIER_WEBHOOK_SERVICE_NAME: 'webhook',
      COURIER_WEBHOOK_CONFIGURATION_NAME: 'courier.example.com',
      COURIER_TLS_EXTRA_SANS: 'localhost, 127.0.0.1,::1',
      COURIER_MANAGE_CERTIFICATES: 'false',
      COURIER_SERVING_CERTIFICATE_VALIDITY: '30d',
    });
    expect(load(managerOptions, [])).toEqual({
      logLevel: 'debug',
      metricsBindAddress: { host: '127.0.0.1', port: 9090 },
      healthProbeBindAddress: { host: '::1', port: 9091 },
      kubeconfig: [kubeconfig],
      namespace: 'security',
      shutdownTimeout: 90_000,
      leaderElect: true,
      leaderElectionId: 'courier.example.com',
      brokerBindAddress: { host: '0.0.0.0', port: 9443 },
      brokerServiceName: 'broker',
      webhookServiceName: 'webhook',
      webhookConfigurationName: 'courier.example.com',
      tlsExtraSans: { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] },
      manageCertificates: false,
      servingCertificateValidity: 30 * 86_400_000,
    });
  });

  it('prefers a flag over its environment variable', () => {
    process.env.COURIER_LOG_LEVEL = 'debug';
    process.env.COURIER_SHUTDOWN_TIMEOUT = '2m';
    process.env.COURIER_LEADER_ELECT = 'true';
    const config = load(managerOptions, ['--log-level', 'warn', '--shutdown-timeout=5s', '--leader-elect', 'false']);
    expect(config).toMatchObject({ logLevel: 'warn', shutdownTimeout: 5_000, leaderElect: false });
  });

  it('takes a bare --leader-elect as true', () => {
    expect(load(managerOptions, ['--leader-elect']).leaderElect).toBe(true);
  });

  it('leaves the certificates to another issuer only when told to', () => {
    expect(load(managerOptions, ['--manage-certificates=false']).manageCertificates).toBe(false);
    expect(load(managerOptions, ['--manage-certificates']).manageCertificates).toBe(true);
  });

  it('accepts a KUBECONFIG list and treats an empty one as unset', () => {
    const [a, b] = [tempFile('a'), tempFile('b')];
    process.env.KUBECONFIG = `${a}${delimiter}${b}`;
    expect(load(managerOptions, []).kubeconfig).toEqual([a, b]);
    process.env.KUBECONFIG = '';
    expect(load(managerOptions, []).kubeconfig).toBeUndefined();
  });

  it.each([
    [
      ['--metrics-bind-address', 'abc'],
      'invalid --metrics-bind-address (COURIER_METRICS_BIND_ADDRESS): expected host:port such as ":8080" or "127.0.0.1:8080", got "abc"',
    ],
    [
      ['--health-probe-bind-address', ':99999'],
      'invalid --health-probe-bind-address (COURIER_HEALTH_PROBE_BIND_ADDRESS): expected host:port such as ":8080" or "127.0.0.1:8080", got ":99999"',
    ],
    [
      ['--log-level', 'verbose'],
      'invalid --log-level (COURIER_LOG_LEVEL): expected one of trace, debug, info, warn, error, got "verbose"',
    ],
    [
      ['--shutdown-timeout', '30'],
      'invalid --shutdown-timeout (COURIER_SHUTDOWN_TIMEOUT): expected a positive duration such as "30s" or "2m", got "30"',
    ],
    [
      ['--shutdown-timeout', '0s'],
      'invalid --shutdown-timeout (COURIER_SHUTDOWN_TIMEOUT): expected a positive duration such as "30s" or "2m", got "0s"',
    ],
    [['--kubeconfig', '/does/not/exist'], 'invalid --kubeconfig (KUBECONFIG): no such file: "/does/not/exist"'],
    [
      ['--namespace', 'Courier_System'],
      'invalid --namespace (COURIER_NAMESPACE): expected a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters), got "Courier_System"',
    ],
    [['--leader-elect', 'yes'], 'invalid --leader-elect (COURIER_LEADER_ELECT): expected "true" or "false", got "yes"'],
    [
      ['--manage-certificates', 'cert-manager'],
      'invalid --manage-certificates (COURIER_MANAGE_CERTIFICATES): expected "true" or "false", got "cert-manager"',
    ],
    [
      ['--leader-election-id', 'not a name'],
      'invalid --leader-election-id (COURIER_LEADER_ELECTION_ID): expected a DNS-1123 subdomain (lowercase letters, digits, "-" and ".", at most 253 characters), got "not a name"',
    ],
  ])('rejects %j', (argv, message) => {
    expect(configError(() => load(managerOptions, argv)).message).toBe(message);
  });

  it('names the flag and variable for a bad environment value too', () => {
    process.env.COURIER_METRICS_BIND_ADDRESS = 'localhost';
    expect(configError(() => load(managerOptions, [])).message).toBe(
      'invalid --metrics-bind-address (COURIER_METRICS_BIND_ADDRESS): expected host:port such as ":8080" or "127.0.0.1:8080", got "localhost"',
    );
  });

  it('reports every problem at once, one per line', () => {
    const error = configError(() => load(managerOptions, ['--log-level', 'x', '--namespace', '-']));
    expect(error.problems).toEqual([
      expect.stringMatching(/^invalid --log-level \(COURIER_LOG_LEVEL\): /),
      expect.stringMatching(/^invalid --namespace \(COURIER_NAMESPACE\): /),
    ]);
    expect(error.message).toBe(error.problems.join('\n'));
  });
});

describe('webhook options', () => {
  const cert = tempFile('tls.crt');
  const key = tempFile('tls.key');
  const required = [
    '--tls-cert-file',
    cert,
    '--tls-key-file',
    key,
    '--agent-image',
    'ghcr.io/courier/courier:0.1.0',
    '--broker-url',
    'https://courier-broker.courier-system.svc',
  ];

  it('requires the TLS files, the agent image and the broker URL', () => {
    expect(configError(() => load(webhookOptions, [])).problems).toEqual([
      'invalid --tls-cert-file (COURIER_TLS_CERT_FILE): required but not set',
      'invalid --tls-key-file (COURIER_TLS_KEY_FILE): required but not set',
      'invalid --agent-image (COURIER_AGENT_IMAGE): required but not set',
      'invalid --broker-url (COURIER_BROKER_URL): required but not set',
    ]);
  });

  it('defaults the address, pull policy, token lifetime and volume size', () => {
    expect(load(webhookOptions, required)).toMatchObject({
      webhookBindAddress: { host: '', port: 9443 },
      tlsCertFile: cert,
      tlsKeyFile: key,
      agentImage: 'ghcr.io/courier/courier:0.1.0',
      agentImagePullPolicy: 'IfNotPresent',
      brokerUrl: 'https://courier-broker.courier-system.svc',
      tokenExpiration: 600,
      credentialsSizeLimit: '1Mi',
    });
  });

  it('rejects a TLS file that does not exist', () => {
    process.env.COURIER_TLS_KEY_FILE = join(tempDir, 'missing.key');
    expect(configError(() => load(webhookOptions, required.slice(0, 2).concat(required.slice(4)))).message).toBe(
      `invalid --tls-key-file (COURIER_TLS_KEY_FILE): no such file: ${JSON.stringify(join(tempDir, 'missing.key'))}`,
    );
  });
});

describe('agent options', () => {
  const required = ['--broker-url', 'https://broker.courier-system.svc', '--connections', 'github', '--mode', 'init'];

  it('requires the broker URL, connections and mode', () => {
    expect(configError(() => load(agentOptions, [])).problems).toEqual([
      'invalid --broker-url (COURIER_BROKER_URL): required but not set',
      'invalid --connections (COURIER_CONNECTIONS): required but not set',
      'invalid --mode (COURIER_MODE): required but not set',
    ]);
  });

  it('parses connections as a de-duplicated list and applies defaults', () => {
    const config = load(agentOptions, [...required, '--connections', 'github, aws-prod,github']);
    expect(config).toEqual({
      logLevel: 'info',
      shutdownTimeout: 30_000,
      brokerUrl: 'https://broker.courier-system.svc',
      tokenFile: '/var/run/secrets/courier.dev/token',
      caFile: '/var/run/secrets/courier.dev/ca.crt',
      outputDir: '/var/run/courier',
      connections: ['github', 'aws-prod'],
      mode: 'init',
      fileMode: '0400',
      retryTimeout: 120_000,
      requestTimeout: 10_000,
    });
  });

  it.each([
    [['--broker-url', 'ftp://x'], /^invalid --broker-url \(COURIER_BROKER_URL\): expected an http or https URL/],
    [['--connections', 'a,,b'], /^invalid --connections \(COURIER_CONNECTIONS\): expected a comma-separated list/],
    [['--mode', 'daemon'], /^invalid --mode \(COURIER_MODE\): expected one of init, sidecar, got "daemon"$/],
    [['--output-dir', ' '], /^invalid --output-dir \(COURIER_OUTPUT_DIR\): expected a directory path, got " "$/],
  ])('rejects %j', (argv, message) => {
    expect(configError(() => load(agentOptions, [...required, ...argv])).message).toMatch(message);
  });
});

describe('option tables', () => {
  it('derive each key from its flag and give every option a COURIER_ (or KUBECONFIG) variable', () => {
    for (const table of [managerOptions, webhookOptions, agentOptions]) {
      expect(() => addOptions(new Command('check'), table)).not.toThrow();
      for (const spec of Object.values(table)) expect(spec.env).toMatch(/^(COURIER_[A-Z_]+|KUBECONFIG)$/);
    }
  });

  it('refuse a key that does not match its flag', () => {
    const table = { wrongKey: managerOptions.namespace };
    expect(() => addOptions(new Command('check'), table)).toThrow('option table key "wrongKey" does not match flag');
  });
});
