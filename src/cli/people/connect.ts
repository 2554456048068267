// `connect aws|generic NAME`: encrypts a credential on this machine to the
// manager's published upload key, writes it as the source Secret (one JWE,
// nothing readable), and creates or updates the ToolConnection that names it.
// The plaintext never leaves the process. Order matters:
//   1. dry run of the ToolConnection write: bad flags fail before any prompt
//   2. the credential (prompt, files, stdin), encrypted here; then the
//      source Secret
//   3. the ToolConnection, with a fresh courier.dev/uploaded-at so the
//      controller ingests at once, also when only the Secret changed
//   4. --wait: until the controller took the Secret away and says Ready or not
import { readFile } from 'node:fs/promises';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Condition,
  type V1Secret,
} from '@kubernetes/client-node';
import { GROUP, TOOL_CONNECTIONS, VERSION, type ToolConnection } from '../../api/v1alpha1/index.ts';
import { ConfigError } from '../../config/errors.ts';
import type { ConnectAwsConfig, ConnectGenericConfig } from '../../config/people-commands.ts';
import { UPLOAD_KEY } from '../../controllers/toolconnection/source.ts';
import type { Credential } from '../../crypto/fingerprint.ts';
import { UPLOAD_KEYS_CONFIGMAP } from '../../crypto/key-hierarchy.ts';
import { encryptForUpload, JWKS_KEY, type Jwks } from '../../crypto/upload-keys.ts';
import { ExitCode } from '../../runtime/exit-codes.ts';
import { CommandFailed, connectToCluster, describeError, isApiError } from './cluster.ts';
import { newConnection, planAws, planGeneric, UPLOADED_AT_ANNOTATION, type ConnectionPlan } from './connection-spec.ts';
import { readAwsAccessKey, readGenericFields } from './credential-input.ts';
import type { Terminal } from './prompt.ts';
import { pollFor } from './wait.ts';

const RESOURCE = { group: GROUP, version: VERSION, plural: TOOL_CONNECTIONS.plural };
/** Marks the source Secret as an encrypted upload in `kubectl get secrets`. */
export const UPLOAD_SECRET_TYPE = 'courier.dev/encrypted-upload';
const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'kubectl-courier' };
/** Reasons the controller gives when it cannot use a source Secret: waiting longer will not help. */
const SOURCE_PROBLEMS = new Set(['InvalidSource', 'UndecryptableSource']);

type ConnectConfig = ConnectAwsConfig | ConnectGenericConfig;

export async function connectAws(name: string, config: ConnectAwsConfig, terminal: Terminal): Promise<number> {
  const sessionPolicy = config.sessionPolicyFile ? await readFile(config.sessionPolicyFile, 'utf8') : undefined;
  return connect(
    name,
    config,
    terminal,
    'aws',
    (existing) => planAws(config, existing, sessionPolicy),
    () =>
      readAwsAccessKey(
        { fromStdin: config.fromStdin, ...(config.accessKeyId ? { accessKeyId: config.accessKeyId } : {}) },
        terminal,
      ),
  );
}

export async function connectGeneric(name: string, config: ConnectGenericConfig, terminal: Terminal): Promise<number> {
  return connect(
    name,
    config,
    terminal,
    'generic',
    (existing) => planGeneric(config, existing),
    () => readGenericFields(config, terminal),
  );
}

async function connect(
  name: string,
  config: ConnectConfig,
  terminal: Terminal,
  provider: 'aws' | 'generic',
  plan: (existing: ToolConnection | undefined) => ConnectionPlan,
  readCredential: () => Promise<Credential>,
): Promise<number> {
  const { kubeConfig, namespace } = connectToCluster(config);
  const objects = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const existing = await readConnection(objects, namespace, name);
  if (existing && existing.spec.provider !== provider) {
    throw new ConfigError([
      `ToolConnection ${name} in ${namespace} is a ${existing.spec.provider} connection and its provider cannot change; delete it or pick another name`,
    ]);
  }
  const connectionPlan = plan(existing);
  if (config.fromStdin && !connectionPlan.uploadsCredential) {
    throw new ConfigError(['--from-stdin: an assumeRole connection stores no credential']);
  }
  const secretName = config.secretName ?? existing?.spec.credentialsSecretRef?.name ?? `${name}-credentials`;
  const annotations: Record<string, string> = {};
  if (connectionPlan.uploadsCredential) {
    // The Secret is deleted once ingested: an encrypted upload outlives its upload key otherwise.
    connectionPlan.spec.credentialsSecretRef = { name: secretName, deletionPolicy: 'Delete' };
    annotations[UPLOADED_AT_ANNOTATION] = new Date().toISOString();
  }
  const write = (dryRun: boolean) =>
    existing
      ? objects.patchNamespacedCustomObject(
          {
            ...RESOURCE,
            namespace,
            name,
            body: { metadata: { annotations }, spec: connectionPlan.spec },
            ...(dryRun ? { dryRun: 'All' } : {}),
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        )
      : objects.createNamespacedCustomObject({
          ...RESOURCE,
          namespace,
          body: newConnection(name, namespace, connectionPlan, annotations),
          ...(dryRun ? { dryRun: 'All' } : {}),
        });

  try {
    await write(true);
  } catch (error) {
    if (isApiError(error, 422)) throw new ConfigError([describeError(error)]);
    throw error;
  }
  let secret: V1Secret | undefined;
  if (connectionPlan.uploadsCredential) {
    // The key first, so nobody types a credential that cannot be sent; asked for
    // before anything is written, so an aborted prompt changes nothing.
    const jwks = await uploadKeys(core, config.courierNamespace);
    const jwe = await encryptForUpload(await readCredential(), jwks, { namespace, name });
    secret = await putSourceSecret(core, namespace, secretName, name, jwe);
  }
  const written = (await write(false)) as ToolConnection;
  terminal.stdout.write(`toolconnection.courier.dev/${name} ${existing ? 'configured' : 'created'}\n`);
  if (!config.wait) return ExitCode.ok;

  terminal.stderr.write(`waiting up to ${config.timeout / 1000}s for toolconnection/${name} to be Ready…\n`);
  const outcome = await pollFor(
    () => connectionOutcome(objects, core, namespace, name, written, secret),
    config.timeout,
  );
  if (!outcome) {
    const last = await readConnection(objects, namespace, name);
    throw new CommandFailed(
      `timed out waiting for toolconnection/${name}; ${describeConditions(last?.status?.conditions) || 'no conditions yet'}`,
    );
  }
  if (outcome.status === 'True') {
    terminal.stdout.write(`toolconnection.courier.dev/${name} is Ready: ${outcome.message ?? ''}\n`);
    return ExitCode.ok;
  }
  throw new CommandFailed(`toolconnection/${name} is not Ready: ${outcome.reason}: ${outcome.message ?? ''}`);
}

async function readConnection(
  objects: CustomObjectsApi,
  namespace: string,
  name: string,
): Promise<ToolConnection | undefined> {
  try {
    return (await objects.getNamespacedCustomObject({ ...RESOURCE, namespace, name })) as ToolConnection;
  } catch (error) {
    if (isApiError(error, 404)) return undefined;
    throw error;
  }
}

async function uploadKeys(core: CoreV1Api, courierNamespace: string): Promise<Jwks> {
  try {
    const map = await core.readNamespacedConfigMap({ name: UPLOAD_KEYS_CONFIGMAP, namespace: courierNamespace });
    const jwks = JSON.parse(map.data?.[JWKS_KEY] ?? '{"keys":[]}') as Jwks;
    if (jwks.keys.length > 0) return jwks;
  } catch (error) {
    if (!isApiError(error, 404)) throw error;
  }
  throw new CommandFailed(
    `no upload key published in ConfigMap ${UPLOAD_KEYS_CONFIGMAP} in namespace ${courierNamespace}; is the Courier manager running there (--courier-namespace)?`,
  );
}

/** Creates the source Secret, or replaces one left from an upload not yet ingested. */
async function putSourceSecret(
  core: CoreV1Api,
  namespace: string,
  secretName: string,
  connection: string,
  jwe: string,
): Promise<V1Secret> {
  const body: V1Secret = {
    metadata: { name: secretName, namespace, labels: { ...MANAGED_BY, 'courier.dev/tool-connection': connection } },
    type: UPLOAD_SECRET_TYPE,
    data: { [UPLOAD_KEY]: Buffer.from(jwe).toString('base64') },
  };
  try {
    return await core.createNamespacedSecret({ namespace, body });
  } catch (error) {
    if (!isApiError(error, 409)) throw error;
  }
  // A Secret's type cannot change: replace it whole.
  await core.deleteNamespacedSecret({ name: secretName, namespace }).catch((error: unknown) => {
    if (!isApiError(error, 404)) throw error;
  });
  return core.createNamespacedSecret({ namespace, body });
}

/**
 * The Ready condition once the controller has acted on this write; undefined
 * while it has not. With an upload, acting means the Secret is gone (ingested)
 * or refused with a source problem.
 */
async function connectionOutcome(
  objects: CustomObjectsApi,
  core: CoreV1Api,
  namespace: string,
  name: string,
  written: ToolConnection,
  secret: V1Secret | undefined,
): Promise<V1Condition | undefined> {
  const tc = await readConnection(objects, namespace, name);
  if (!tc) throw new CommandFailed(`toolconnection/${name} was deleted while waiting`);
  const conditions = tc.status?.conditions;
  const ready = conditions?.find((c) => c.type === 'Ready');
  const current = ready !== undefined && ready.observedGeneration === tc.metadata.generation;
  if (secret) {
    const stored = conditions?.find((c) => c.type === 'Stored');
    const rewritten = tc.metadata.resourceVersion !== written.metadata.resourceVersion;
    if (rewritten && current && stored?.status === 'False' && SOURCE_PROBLEMS.has(stored.reason)) return ready;
    if (await secretStillThere(core, namespace, secret)) return undefined;
  }
  return current && ready.status !== 'Unknown' ? ready : undefined;
}

async function secretStillThere(core: CoreV1Api, namespace: string, secret: V1Secret): Promise<boolean> {
  try {
    const now = await core.readNamespacedSecret({ name: secret.metadata!.name!, namespace });
    return now.metadata?.uid === secret.metadata?.uid;
  } catch (error) {
    if (isApiError(error, 404)) return false;
    throw error;
  }
}

export function describeConditions(conditions: readonly V1Condition[] | undefined): string {
  return (conditions ?? [])
    .map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`)
    .join('; ');
}
