// Courier's configuration file: which upstream stores are enabled, which is
// the default, and where the key-encryption key comes from. Helm renders it;
// without one, Courier runs on its embedded defaults (the `kubernetes` store
// and a `local` KEK), which need nothing outside the cluster.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.ts';

const name = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lower-case DNS label such as "in-cluster"');
const url = z.string().regex(/^https?:\/\/[^\s/]+(\/.*)?$/, 'must be an http(s) URL');
const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port');
const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region such as us-east-1');

const kubernetesStore = z.strictObject({
  name,
  type: z.literal('kubernetes'),
  kubernetes: z
    .strictObject({
      /** Defaults to Courier's own namespace. */
      namespace: name.optional(),
      maxVersions: z.number().int().min(1).max(100).default(10),
    })
    .default({ maxVersions: 10 }),
});

const awsSecretsManagerStore = z.strictObject({
  name,
  type: z.literal('aws-secrets-manager'),
  awsSecretsManager: z.strictObject({
    region,
    endpoint: url.optional(),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9/_+=.@-]*$/)
      .max(128)
      .default('courier/'),
    kmsKeyId: z.string().min(1).optional(),
    recoveryWindowDays: z
      .number()
      .int()
      .refine((d) => d === 0 || (d >= 7 && d <= 30), 'must be 0 (delete at once) or 7 to 30')
      .default(0),
  }),
});

const gcpSecretManagerStore = z.strictObject({
  name,
  type: z.literal('gcp-secret-manager'),
  gcpSecretManager: z.strictObject({
    project: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'must be a Google Cloud project id'),
    endpoint: hostPort.optional(),
    insecure: z.boolean().default(false),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]*$/)
      .max(64)
      .default('courier_'),
  }),
});

const vaultStore = z.strictObject({
  name,
  type: z.literal('vault'),
  vault: z.strictObject({
    address: url,
    mount: z.string().min(1).default('secret'),
    pathPrefix: z.string().default('courier'),
    namespace: z.string().min(1).optional(),
    caFile: z.string().min(1).optional(),
    auth: z.discriminatedUnion('method', [
      z.strictObject({ method: z.literal('token'), tokenFile: z.string().min(1) }),
      z.strictObject({
        method: z.literal('kubernetes'),
        role: z.string().min(1),
        mount: z.string().min(1).default('kubernetes'),
        tokenFile: z.string().min(1).default('/var/run/secrets/kubernetes.io/serviceaccount/token'),
      }),
    ]),
  }),
});

const store = z.discriminatedUnion('type', [
  kubernetesStore,
  awsSecretsManagerStore,
  gcpSecretManagerStore,
  vaultStore,
]);

const kek = z.discriminatedUnion('provider', [
  z.strictObject({ provider: z.literal('local') }),
  z.strictObject({
    provider: z.literal('aws-kms'),
    awsKms: z.strictObject({ keyId: z.string().min(1), region, endpoint: url.optional() }),
  }),
  z.strictObject({
    provider: z.literal('gcp-kms'),
    gcpKms: z.strictObject({
      keyName: z
        .string()
        .regex(
          /^projects\/[^/\s]+\/locations\/[^/\s]+\/keyRings\/[^/\s]+\/cryptoKeys\/[^/\s]+$/,
          'must be a Cloud KMS key name such as projects/my-project/locations/global/keyRings/courier/cryptoKeys/kek (a key, not a key version)',
        ),
      endpoint: hostPort.optional(),
      insecure: z.boolean().default(false),
    }),
  }),
]);

export const courierConfigSchema = z
  .strictObject({
    stores: z.array(store).min(1, 'enable at least one store'),
    defaultStore: name,
    kek: kek.default({ provider: 'local' }),
    /** How the manager reaches AWS STS to validate and issue credentials. */
    aws: z
      .strictObject({
        /** An STS endpoint other than the region's: a VPC endpoint, or a test server. */
        stsEndpoint: url.optional(),
      })
      .default({}),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.stores.forEach((s, i) => {
      if (seen.has(s.name))
        ctx.addIssue({ code: 'custom', path: ['stores', i, 'name'], message: `duplicate store name "${s.name}"` });
      seen.add(s.name);
    });
    if (!seen.has(config.defaultStore)) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultStore'],
        message: `"${config.defaultStore}" is not one of the enabled stores (${[...seen].join(', ')})`,
      });
    }
  });

export type CourierConfig = z.infer<typeof courierConfigSchema>;
export type StoreConfig = CourierConfig['stores'][number];
export type KekConfig = CourierConfig['kek'];

/** The embedded defaults: everything in the cluster, nothing to set up. */
export const EMBEDDED_CONFIG: CourierConfig = {
  stores: [{ name: 'kubernetes', type: 'kubernetes', kubernetes: { maxVersions: 10 } }],
  defaultStore: 'kubernetes',
  kek: { provider: 'local' },
  aws: {},
};

/** A ConfigError, so the CLI prints it without a stack trace and exits 2. */
export class ConfigFileError extends ConfigError {
  readonly fieldProblems: readonly string[];

  constructor(file: string, problems: string[]) {
    super([`configuration file ${file} is invalid:`, ...problems.map((p) => `  - ${p}`)]);
    this.name = 'ConfigFileError';
    this.fieldProblems = problems;
  }
}

/** Parses and validates a configuration document; `file` names it in errors. */
export function parseCourierConfig(text: string, file: string): CourierConfig {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new ConfigFileError(file, [`not valid YAML: ${(error as Error).message.split('\n')[0]}`]);
  }
  const result = courierConfigSchema.safeParse(document);
  if (!result.success) {
    throw new ConfigFileError(
      file,
      result.error.issues.map((issue) => `${issue.path.map(String).join('.') || '(top level)'}: ${issue.message}`),
    );
  }
  return result.data;
}

/** Reads the file if one is given, else returns the embedded defaults. */
export async function loadCourierConfig(file: string | undefined): Promise<CourierConfig> {
  if (!file) return EMBEDDED_CONFIG;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigFileError(file, [`cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`]);
  }
  return parseCourierConfig(text, file);
}
