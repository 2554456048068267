// The option tables of the commands people run from a workstation (`courier
// connect|run|status|doctor`, and `kubectl courier …`). They follow kubectl's
// conventions: -n/--namespace, --context, --kubeconfig, -o. Unlike the
// cluster components' options, most have no environment twin: a variable left
// over in a shell should not quietly change which role a connection assumes.
import { z } from 'zod';
import type { ConfigOf, OptionSpec } from './options.ts';
import {
  dnsLabel,
  dnsSubdomain,
  duration,
  existingFile,
  existingFileList,
  nameList,
  nonEmpty,
  oneOf,
  optional,
} from './values.ts';

/** What a boolean flag (`--wait`, `-A`) gives: true when present. */
const flag = () =>
  z
    .boolean()
    .optional()
    .transform((value) => value === true);

/** Every `KEY=VALUE` of a repeatable flag; KEY must be non-empty, VALUE may be. */
function keyValues(what: string): z.ZodType<Array<[string, string]>> {
  return z
    .array(z.string())
    .optional()
    .transform((raw, ctx) => {
      const pairs: Array<[string, string]> = [];
      for (const item of raw ?? []) {
        const at = item.indexOf('=');
        if (at < 1) {
          ctx.addIssue({ code: 'custom', message: `expected ${what}, got ${JSON.stringify(item)}` });
          return z.NEVER;
        }
        pairs.push([item.slice(0, at), item.slice(at + 1)]);
      }
      return pairs;
    });
}

/** Every value of a repeatable flag, each checked by `each`. */
function repeated<T>(each: z.ZodType<T>): z.ZodType<T[]> {
  return z
    .array(each)
    .optional()
    .transform((values) => values ?? []);
}

export const OUTPUT_FORMATS = ['json', 'yaml'] as const;
export const AUTH_METHODS = ['assumeRole', 'accessKey'] as const;

/** How to reach the cluster, and which namespace: as kubectl. */
export const clusterOptions = {
  kubeconfig: {
    flags: '--kubeconfig <path>',
    env: 'KUBECONFIG',
    description: 'kubeconfig file(s); when unset, the service account inside a cluster, else ~/.kube/config',
    schema: optional(existingFileList()),
  },
  context: {
    flags: '--context <name>',
    description: 'the kubeconfig context to use; its current context when unset',
    schema: optional(nonEmpty('a context name')),
  },
  namespace: {
    flags: '-n, --namespace <name>',
    description: "the namespace; the context's namespace, else default, when unset",
    schema: optional(dnsLabel()),
  },
} satisfies Record<string, OptionSpec>;

const courierNamespace = {
  flags: '--courier-namespace <name>',
  env: 'COURIER_NAMESPACE',
  description: "Courier's own namespace (where the manager runs and keeps its keys)",
  defaultValue: 'courier-system',
  schema: dnsLabel(),
} satisfies OptionSpec;

const output = {
  flags: '-o, --output <format>',
  description: `print data instead of a table: ${OUTPUT_FORMATS.join(' or ')}`,
  schema: optional(oneOf(OUTPUT_FORMATS)),
} satisfies OptionSpec;

const allNamespaces = {
  flags: '-A, --all-namespaces',
  description: 'every namespace instead of one',
  schema: flag(),
} satisfies OptionSpec;

const wait = {
  flags: '--wait',
  description: 'wait for the outcome and print it; exit 1 if it failed',
  schema: flag(),
} satisfies OptionSpec;

const timeout = {
  flags: '--timeout <duration>',
  description: 'how long --wait waits',
  defaultValue: '2m',
  schema: duration(),
} satisfies OptionSpec;

const leaderElectionId = {
  flags: '--leader-election-id <name>',
  description: "the Lease the manager replicas elect their leader with (the manager's --leader-election-id)",
  defaultValue: 'courier-manager',
  schema: dnsSubdomain(),
} satisfies OptionSpec;

const managerSelector = {
  flags: '--manager-selector <labels>',
  description: "label selector of the manager's pods in Courier's namespace",
  defaultValue: 'app.kubernetes.io/name=courier,app.kubernetes.io/component=manager',
  schema: nonEmpty('a label selector'),
} satisfies OptionSpec;

/** What `connect aws` and `connect generic` share. */
const connectOptions = {
  secretName: {
    flags: '--secret-name <name>',
    description:
      'the Secret that carries the encrypted credential to Courier; the one the ToolConnection names, else NAME-credentials',
    schema: optional(dnsSubdomain()),
  },
  store: {
    flags: '--store <name>',
    description: "the configured store to keep the credential in; the admin's default when unset",
    schema: optional(dnsLabel()),
  },
  serviceAccount: {
    flags: '--service-account <name>',
    description: 'a service account whose pods may receive the credential (repeat for more; replaces the list)',
    repeatable: true,
    schema: repeated(dnsSubdomain()),
  },
  validationInterval: {
    flags: '--validation-interval <interval>',
    description: 'how often Courier proves the credential works, such as 6h',
    schema: optional(nonEmpty('an interval such as 6h')),
  },
  fromStdin: {
    flags: '--from-stdin',
    description: 'read the credential from stdin as one JSON object instead of prompting',
    schema: flag(),
  },
  wait,
  timeout,
  ...clusterOptions,
  courierNamespace,
} satisfies Record<string, OptionSpec>;

export const connectAwsOptions = {
  authMethod: {
    flags: '--auth-method <method>',
    description: `${AUTH_METHODS.join(' or ')}; assumeRole when --role-arn is given, else the current one, else accessKey`,
    schema: optional(oneOf(AUTH_METHODS)),
  },
  roleArn: {
    flags: '--role-arn <arn>',
    description: 'the IAM role to assume, such as arn:aws:iam::123456789012:role/ScanRole',
    schema: optional(nonEmpty('a role ARN')),
  },
  externalId: {
    flags: '--external-id <id>',
    description: "the ExternalId the role's trust policy requires",
    schema: optional(nonEmpty('an external id')),
  },
  accountId: {
    flags: '--account-id <id>',
    description: 'the account the credential must reach; validation fails if STS reports another',
    schema: optional(nonEmpty('a 12-digit account id')),
  },
  region: {
    flags: '--region <region>',
    description: 'the AWS region whose STS endpoint is used',
    schema: optional(nonEmpty('a region such as eu-west-1')),
  },
  sessionDuration: {
    flags: '--session-duration <duration>',
    description: 'lifetime of the session credentials pods get, 15m to 12h',
    schema: optional(duration()),
  },
  sessionPolicyFile: {
    flags: '--session-policy-file <path>',
    description: "a JSON IAM policy that further limits the assumed role's sessions",
    schema: optional(existingFile()),
  },
  sessionTag: {
    flags: '--session-tag <key=value>',
    description: 'a session tag for every AssumeRole call (repeat for more; replaces the set)',
    repeatable: true,
    schema: keyValues('KEY=VALUE'),
  },
  allowLongLivedKey: {
    flags: '--allow-long-lived-key',
    description: 'hand pods the access key itself instead of session credentials (tools that cannot use sessions)',
    schema: flag(),
  },
  maxKeyAge: {
    flags: '--max-key-age <age>',
    description: 'age after which the access key is reported RotationDue, such as 90d',
    schema: optional(nonEmpty('an age such as 90d')),
  },
  accessKeyId: {
    flags: '--access-key-id <id>',
    description: 'the access key id (not secret); prompted for when unset',
    schema: optional(nonEmpty('an access key id such as AKIA…')),
  },
  ...connectOptions,
} satisfies Record<string, OptionSpec>;

export const connectGenericOptions = {
  purpose: {
    flags: '--purpose <purpose>',
    description: 'ssh, winrm, rdp, http, database or a custom lower-case name (needed to create)',
    schema: optional(nonEmpty('a purpose such as ssh')),
  },
  host: {
    flags: '--host <host>',
    description: 'the host the credential is for',
    schema: optional(nonEmpty('a DNS name or IP address')),
  },
  port: {
    flags: '--port <port>',
    description: 'the port on that host',
    schema: optional(
      z.string().transform((raw, ctx) => {
        const port = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
        if (port >= 1 && port <= 65535) return port;
        ctx.addIssue({ code: 'custom', message: `expected a port from 1 to 65535, got ${JSON.stringify(raw)}` });
        return z.NEVER;
      }),
    ),
  },
  requiredFields: {
    flags: '--required-fields <names>',
    description: 'fields every upload must contain, comma-separated, such as username,password',
    schema: optional(
      z.string().transform((raw) =>
        raw
          .split(',')
          .map((name) => name.trim())
          .filter(Boolean),
      ),
    ),
  },
  set: {
    flags: '--set <key=value>',
    description: 'a field that is not secret, such as username=scanner (repeat for more)',
    repeatable: true,
    schema: keyValues('KEY=VALUE'),
  },
  fromFile: {
    flags: '--from-file <key=path>',
    description: 'a field read from a file, such as privateKey=./id_ed25519 (repeat for more)',
    repeatable: true,
    schema: keyValues('KEY=PATH'),
  },
  prompt: {
    flags: '--prompt <key>',
    description: 'a field to ask for without echo (repeat for more); password when no field is given otherwise',
    repeatable: true,
    schema: repeated(nonEmpty('a field name')),
  },
  ...connectOptions,
} satisfies Record<string, OptionSpec>;

export const runOptions = { ...clusterOptions, wait, timeout } satisfies Record<string, OptionSpec>;

export const statusOptions = { ...clusterOptions, allNamespaces, output } satisfies Record<string, OptionSpec>;

export const doctorOptions = {
  ...clusterOptions,
  allNamespaces,
  courierNamespace,
  webhookConfigurationName: {
    flags: '--webhook-configuration-name <name>',
    description: "Courier's MutatingWebhookConfiguration",
    defaultValue: 'courier',
    schema: dnsSubdomain(),
  },
  leaderElectionId,
  managerSelector,
  output,
} satisfies Record<string, OptionSpec>;

export const kubectlRotateKeysOptions = {
  kubeconfig: clusterOptions.kubeconfig,
  context: clusterOptions.context,
  courierNamespace,
  leaderElectionId,
  managerSelector,
  container: {
    flags: '--container <name>',
    description: "the manager's container; the pod's default container when unset",
    schema: optional(dnsLabel()),
  },
  kek: {
    flags: '--kek',
    description: 'rotate the key-encryption key and re-wrap every key under it',
    schema: flag(),
  },
  tenants: {
    flags: '--tenants <namespaces>',
    description: 'give these tenants (namespaces) new data keys and re-seal their credentials',
    schema: optional(nameList()),
  },
  allTenants: {
    flags: '--all-tenants',
    description: 'do that for every tenant that has a data key',
    schema: flag(),
  },
} satisfies Record<string, OptionSpec>;

export type ClusterConfig = ConfigOf<typeof clusterOptions>;
export type ConnectAwsConfig = ConfigOf<typeof connectAwsOptions>;
export type ConnectGenericConfig = ConfigOf<typeof connectGenericOptions>;
export type RunConfig = ConfigOf<typeof runOptions>;
export type StatusConfig = ConfigOf<typeof statusOptions>;
export type DoctorConfig = ConfigOf<typeof doctorOptions>;
export type KubectlRotateKeysConfig = ConfigOf<typeof kubectlRotateKeysOptions>;
