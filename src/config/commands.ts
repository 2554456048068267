// The option tables of Courier's in-cluster processes. Each entry is the single
// source of its flag, environment variable, help text, default and validation.
import { LOG_LEVELS } from '../log/logger.ts';
import { binaryQuantity, httpsUrl, imageReference, PULL_POLICIES, tokenExpiration } from '../webhook/settings.ts';
import type { ConfigOf, OptionSpec } from './options.ts';
import {
  bindAddress,
  dnsLabel,
  dnsSubdomain,
  duration,
  existingFile,
  existingFileList,
  hostList,
  httpUrl,
  nameList,
  nonEmpty,
  oneOf,
  optional,
  switchValue,
} from './values.ts';

const logLevel = {
  flags: '--log-level <level>',
  env: 'COURIER_LOG_LEVEL',
  description: `log verbosity: ${LOG_LEVELS.join(', ')}`,
  defaultValue: 'info',
  schema: oneOf(LOG_LEVELS),
} satisfies OptionSpec;

const shutdownTimeout = {
  flags: '--shutdown-timeout <duration>',
  env: 'COURIER_SHUTDOWN_TIMEOUT',
  description:
    "how long graceful shutdown may take before the process gives up; keep it below the pod's terminationGracePeriodSeconds",
  defaultValue: '30s',
  schema: duration(),
} satisfies OptionSpec;

const kubeconfig = {
  flags: '--kubeconfig <path>',
  env: 'KUBECONFIG',
  description: 'kubeconfig file(s) to reach the API server; the in-cluster service account when unset',
  schema: optional(existingFileList()),
} satisfies OptionSpec;

const namespace = {
  flags: '--namespace <name>',
  env: 'COURIER_NAMESPACE',
  description: "Courier's own namespace",
  defaultValue: 'courier-system',
  schema: dnsLabel(),
} satisfies OptionSpec;

const config = {
  flags: '--config <path>',
  env: 'COURIER_CONFIG',
  description: 'configuration file (stores, key-encryption key); the embedded defaults when unset',
  schema: optional(existingFile()),
} satisfies OptionSpec;

/** Options shared by the long-running cluster components (manager, webhook). */
const componentOptions = {
  logLevel,
  metricsBindAddress: {
    flags: '--metrics-bind-address <host:port>',
    env: 'COURIER_METRICS_BIND_ADDRESS',
    description: 'address serving Prometheus metrics on /metrics',
    defaultValue: ':8080',
    schema: bindAddress(),
  },
  healthProbeBindAddress: {
    flags: '--health-probe-bind-address <host:port>',
    env: 'COURIER_HEALTH_PROBE_BIND_ADDRESS',
    description: 'address serving /healthz and /readyz',
    defaultValue: ':8081',
    schema: bindAddress(),
  },
  kubeconfig,
  namespace,
  shutdownTimeout,
} satisfies Record<string, OptionSpec>;

export const managerOptions = {
  ...componentOptions,
  config,
  leaderElect: {
    flags: '--leader-elect [true|false]',
    env: 'COURIER_LEADER_ELECT',
    description: 'elect a leader so only one manager replica reconciles at a time',
    defaultValue: 'false',
    presetValue: 'true',
    schema: switchValue(),
  },
  watchNamespace: {
    flags: '--watch-namespace <name>',
    env: 'COURIER_WATCH_NAMESPACE',
    description: 'reconcile objects in this namespace only; every namespace when unset',
    schema: optional(dnsLabel()),
  },
  leaderElectionId: {
    flags: '--leader-election-id <name>',
    env: 'COURIER_LEADER_ELECTION_ID',
    description: 'name of the Lease used for leader election',
    defaultValue: 'courier-manager',
    schema: dnsSubdomain(),
  },
  brokerBindAddress: {
    flags: '--broker-bind-address <host:port>',
    env: 'COURIER_BROKER_BIND_ADDRESS',
    description: 'address serving the credential broker over TLS (every replica serves it)',
    defaultValue: ':8443',
    schema: bindAddress(),
  },
  brokerServiceName: {
    flags: '--broker-service-name <name>',
    env: 'COURIER_BROKER_SERVICE_NAME',
    description: "the broker's Service in Courier's namespace; its DNS names go into the broker certificate",
    defaultValue: 'courier-broker',
    schema: dnsLabel(),
  },
  webhookServiceName: {
    flags: '--webhook-service-name <name>',
    env: 'COURIER_WEBHOOK_SERVICE_NAME',
    description: "the webhook's Service in Courier's namespace; its DNS names go into the webhook certificate",
    defaultValue: 'courier-webhook',
    schema: dnsLabel(),
  },
  webhookConfigurationName: {
    flags: '--webhook-configuration-name <name>',
    env: 'COURIER_WEBHOOK_CONFIGURATION_NAME',
    description: 'the MutatingWebhookConfiguration whose caBundle the manager keeps current',
    defaultValue: 'courier',
    schema: dnsSubdomain(),
  },
  tlsExtraSans: {
    flags: '--tls-extra-sans <hosts>',
    env: 'COURIER_TLS_EXTRA_SANS',
    description: 'more DNS names or IP addresses for the broker and webhook certificates (local runs)',
    schema: optional(hostList()),
  },
  manageCertificates: {
    flags: '--manage-certificates [true|false]',
    env: 'COURIER_MANAGE_CERTIFICATES',
    description:
      "issue and renew the broker's and webhook's certificates and the webhook's caBundle; false: another issuer (cert-manager) keeps them, and the broker reads its own from Secret courier-broker-tls",
    defaultValue: 'true',
    presetValue: 'true',
    schema: switchValue(),
  },
  servingCertificateValidity: {
    flags: '--serving-certificate-validity <duration>',
    env: 'COURIER_SERVING_CERTIFICATE_VALIDITY',
    description: 'lifetime of the broker and webhook certificates; they are renewed with a third of it left',
    defaultValue: '90d',
    schema: duration(),
  },
} satisfies Record<string, OptionSpec>;

export const webhookOptions = {
  ...componentOptions,
  webhookBindAddress: {
    flags: '--webhook-bind-address <host:port>',
    env: 'COURIER_WEBHOOK_BIND_ADDRESS',
    description: 'address serving admission requests over TLS',
    defaultValue: ':9443',
    schema: bindAddress(),
  },
  tlsCertFile: {
    flags: '--tls-cert-file <path>',
    env: 'COURIER_TLS_CERT_FILE',
    description: 'PEM certificate (chain) the admission endpoint presents; re-read when it changes',
    schema: existingFile(),
  },
  tlsKeyFile: {
    flags: '--tls-key-file <path>',
    env: 'COURIER_TLS_KEY_FILE',
    description: 'PEM private key of --tls-cert-file; re-read when it changes',
    schema: existingFile(),
  },
  agentImage: {
    flags: '--agent-image <image>',
    env: 'COURIER_AGENT_IMAGE',
    description: "image of the agent container added to pods (Courier's own image)",
    schema: imageReference(),
  },
  agentImagePullPolicy: {
    flags: '--agent-image-pull-policy <policy>',
    env: 'COURIER_AGENT_IMAGE_PULL_POLICY',
    description: `imagePullPolicy of the agent container: ${PULL_POLICIES.join(', ')}`,
    defaultValue: 'IfNotPresent',
    schema: oneOf(PULL_POLICIES),
  },
  brokerUrl: {
    flags: '--broker-url <url>',
    env: 'COURIER_BROKER_URL',
    description: 'https URL at which agents reach the broker',
    schema: httpsUrl(),
  },
  tokenExpiration: {
    flags: '--token-expiration <duration>',
    env: 'COURIER_TOKEN_EXPIRATION',
    description: 'lifetime of the projected token agents present to the broker; at least 10m (the kubelet renews it)',
    defaultValue: '10m',
    schema: tokenExpiration(),
  },
  credentialsSizeLimit: {
    flags: '--credentials-size-limit <size>',
    env: 'COURIER_CREDENTIALS_SIZE_LIMIT',
    description: 'sizeLimit of the in-memory credentials volume, in Ki, Mi or Gi',
    defaultValue: '1Mi',
    schema: binaryQuantity(),
  },
} satisfies Record<string, OptionSpec>;

export const AGENT_MODES = ['init', 'sidecar'] as const;
/** Octal, as `--file-mode` takes them: owner read, or owner and group read. */
export const AGENT_FILE_MODES = ['0400', '0440'] as const;

export const agentOptions = {
  logLevel,
  shutdownTimeout,
  brokerUrl: {
    flags: '--broker-url <url>',
    env: 'COURIER_BROKER_URL',
    description: 'URL of the Courier broker that hands out credentials',
    schema: httpUrl(),
  },
  tokenFile: {
    flags: '--token-file <path>',
    env: 'COURIER_TOKEN_FILE',
    description: 'projected service account token presented to the broker; re-read before every request',
    defaultValue: '/var/run/secrets/courier.dev/token',
    schema: nonEmpty('a file path'),
  },
  caFile: {
    flags: '--ca-file <path>',
    env: 'COURIER_CA_FILE',
    description: "PEM bundle of the broker's CA, the only one trusted; re-read before every request",
    defaultValue: '/var/run/secrets/courier.dev/ca.crt',
    schema: nonEmpty('a file path'),
  },
  outputDir: {
    flags: '--output-dir <path>',
    env: 'COURIER_OUTPUT_DIR',
    description: 'directory the credentials are written to',
    defaultValue: '/var/run/courier',
    schema: nonEmpty('a directory path'),
  },
  connections: {
    flags: '--connections <names>',
    env: 'COURIER_CONNECTIONS',
    description: 'comma-separated Connections to fetch credentials for',
    schema: nameList(),
  },
  mode: {
    flags: '--mode <mode>',
    env: 'COURIER_MODE',
    description: `${AGENT_MODES.join(' or ')}: fetch once and exit, or keep credentials fresh`,
    schema: oneOf(AGENT_MODES),
  },
  fileMode: {
    flags: '--file-mode <mode>',
    env: 'COURIER_FILE_MODE',
    description: 'mode of the credential files: 0400 (owner only) or 0440 (owner and group, to share with an fsGroup)',
    defaultValue: '0400',
    schema: oneOf(AGENT_FILE_MODES),
  },
  retryTimeout: {
    flags: '--retry-timeout <duration>',
    env: 'COURIER_RETRY_TIMEOUT',
    description: 'how long failures the broker may recover from are retried before the first write; then exit 1',
    defaultValue: '2m',
    schema: duration(),
  },
  requestTimeout: {
    flags: '--request-timeout <duration>',
    env: 'COURIER_REQUEST_TIMEOUT',
    description: 'time limit of one request to the broker, connecting included',
    defaultValue: '10s',
    schema: duration(),
  },
} satisfies Record<string, OptionSpec>;

export const rotateKeysOptions = {
  logLevel,
  kubeconfig,
  namespace,
  config,
  kek: {
    flags: '--kek [true|false]',
    env: 'COURIER_ROTATE_KEK',
    description: 'rotate the key-encryption key and re-wrap every key under it',
    defaultValue: 'false',
    presetValue: 'true',
    schema: switchValue(),
  },
  tenants: {
    flags: '--tenants <namespaces>',
    env: 'COURIER_ROTATE_TENANTS',
    description: 'give these tenants (namespaces) new data keys and re-seal their credentials',
    schema: optional(nameList()),
  },
  allTenants: {
    flags: '--all-tenants [true|false]',
    env: 'COURIER_ROTATE_ALL_TENANTS',
    description: 'do that for every tenant that has a data key',
    defaultValue: 'false',
    presetValue: 'true',
    schema: switchValue(),
  },
} satisfies Record<string, OptionSpec>;

export type RotateKeysConfig = ConfigOf<typeof rotateKeysOptions>;
export type ManagerConfig = ConfigOf<typeof managerOptions>;
export type WebhookConfig = ConfigOf<typeof webhookOptions>;
export type AgentConfig = ConfigOf<typeof agentOptions>;
/** What every cluster component's process shell needs. */
export type ComponentConfig = ConfigOf<typeof componentOptions>;
