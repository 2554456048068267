// What `connect` writes into a ToolConnection, from its flags. Flags given
// set fields; flags left out leave them as they are, so running `connect`
// again to upload a new key keeps the rest. The result is a JSON merge patch
// (null removes a field) for an existing object, or the whole spec for a new
// one. The apiserver's schema and CEL rules judge the values (a dry run comes
// first); only what the flags themselves make ambiguous is checked here.
import { API_VERSION, TOOL_CONNECTIONS, type ToolConnection } from '../../api/v1alpha1/index.ts';
import { ConfigError } from '../../config/errors.ts';
import type { ConnectAwsConfig, ConnectGenericConfig } from '../../config/people-commands.ts';

/** Set on every write of `connect` that uploads a credential: the change makes the controller ingest it at once. */
export const UPLOADED_AT_ANNOTATION = 'courier.dev/uploaded-at';

export type SpecPatch = Record<string, unknown>;

export interface ConnectionPlan {
  provider: 'aws' | 'generic';
  /** Spec fields to set; null removes one. */
  spec: SpecPatch;
  /** accessKey and generic connections carry a credential; assumeRole stores nothing. */
  uploadsCredential: boolean;
}

type Common = Pick<ConnectAwsConfig, 'store' | 'serviceAccount' | 'validationInterval'>;

function commonFields(config: Common): SpecPatch {
  return {
    ...(config.store ? { store: config.store } : {}),
    ...(config.serviceAccount.length > 0 ? { access: { serviceAccounts: config.serviceAccount } } : {}),
    ...(config.validationInterval ? { validation: { interval: config.validationInterval } } : {}),
  };
}

export function planAws(
  config: ConnectAwsConfig,
  existing: ToolConnection | undefined,
  sessionPolicy?: string,
): ConnectionPlan {
  const current = existing?.spec.aws?.authMethod;
  const authMethod = config.authMethod ?? (config.roleArn ? 'assumeRole' : (current ?? 'accessKey'));
  const assumeRoleOnly = { roleArn: config.roleArn, externalId: config.externalId, sessionPolicy };
  if (authMethod === 'accessKey') {
    const given = Object.entries({
      '--role-arn': config.roleArn,
      '--external-id': config.externalId,
      '--session-policy-file': sessionPolicy,
    })
      .filter(([, value]) => value !== undefined)
      .map(([flag]) => flag);
    if (given.length > 0) throw new ConfigError([`${given.join(', ')}: only for --auth-method assumeRole`]);
  } else if (config.allowLongLivedKey || config.maxKeyAge || config.accessKeyId) {
    throw new ConfigError([
      '--allow-long-lived-key, --max-key-age and --access-key-id: only for --auth-method accessKey',
    ]);
  }
  if (authMethod === 'assumeRole' && !config.roleArn && current !== 'assumeRole') {
    throw new ConfigError(['--role-arn is needed to assume a role']);
  }
  let sessionDurationSeconds: number | undefined;
  if (config.sessionDuration !== undefined) {
    if (config.sessionDuration % 1000 !== 0) throw new ConfigError(['--session-duration: whole seconds only']);
    sessionDurationSeconds = config.sessionDuration / 1000;
  }
  const aws: SpecPatch = {
    authMethod,
    ...defined({ accountId: config.accountId, region: config.region, sessionDurationSeconds }),
    ...(config.sessionTag.length > 0 ? { sessionTags: Object.fromEntries(config.sessionTag) } : {}),
  };
  const switching = current !== undefined && current !== authMethod;
  if (authMethod === 'assumeRole') {
    Object.assign(aws, defined(assumeRoleOnly));
    // A key's settings would break the CEL rules of assumeRole.
    if (switching) aws.allowLongLivedKey = null;
  } else {
    if (config.allowLongLivedKey) aws.allowLongLivedKey = true;
    if (switching) Object.assign(aws, { roleArn: null, externalId: null, sessionPolicy: null });
  }
  const spec: SpecPatch = { aws, ...commonFields(config) };
  if (config.maxKeyAge) spec.rotation = { maxKeyAge: config.maxKeyAge };
  // Nothing long-lived is stored for a role: no source Secret to point at.
  if (authMethod === 'assumeRole' && switching) spec.credentialsSecretRef = null;
  return { provider: 'aws', spec, uploadsCredential: authMethod === 'accessKey' };
}

export function planGeneric(config: ConnectGenericConfig, existing: ToolConnection | undefined): ConnectionPlan {
  if (!existing && !config.purpose) throw new ConfigError(['--purpose is needed to create a generic connection']);
  const generic = defined({
    purpose: config.purpose,
    host: config.host,
    port: config.port,
    requiredFields: config.requiredFields,
  });
  const spec: SpecPatch = { ...commonFields(config) };
  if (Object.keys(generic).length > 0) spec.generic = generic;
  return { provider: 'generic', spec, uploadsCredential: true };
}

/** The new object `plan` describes, with the source Secret it names when it uploads. */
export function newConnection(
  name: string,
  namespace: string,
  plan: ConnectionPlan,
  annotations: Record<string, string>,
): ToolConnection {
  return {
    apiVersion: API_VERSION,
    kind: TOOL_CONNECTIONS.kind,
    metadata: { name, namespace, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) },
    spec: withoutNulls({ provider: plan.provider, ...plan.spec }) as unknown as ToolConnection['spec'],
  };
}

function defined(fields: Record<string, unknown>): SpecPatch {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

function withoutNulls(value: SpecPatch): SpecPatch {
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, typeof v === 'object' && !Array.isArray(v) ? withoutNulls(v as SpecPatch) : v]),
  );
}
