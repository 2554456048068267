// Turns an authorised request into credentials, per kind:
//   aws/assumeRole  STS AssumeRole under the manager's identity, with the
//                   ExternalId and session tags naming namespace, pod, schedule
//   aws/accessKey   STS GetSessionToken under the stored key (the key itself
//                   only when the connection allows long-lived keys)
//   generic         the stored fields
// Only this module and the reconciler ever open a stored credential.
import {
  AssumeRoleCommand,
  GetSessionTokenCommand,
  STSClient,
  type Credentials,
  type STSClientConfig,
} from '@aws-sdk/client-sts';
import type { V1Pod } from '@kubernetes/client-node';
import type { CredentialResponse } from '../api/v1alpha1/delivery.ts';
import { SCHEDULE_LABEL, type ToolConnection } from '../api/v1alpha1/index.ts';
import type { StsSettings } from '../controllers/toolconnection/aws-validation.ts';
import type { Credential } from '../crypto/fingerprint.ts';
import { BrokerDenial } from './denial.ts';

export const MIN_SESSION_SECONDS = 900;
const DEFAULT_SESSION_SECONDS = 3600;
const TAG_VALUE_MAX = 256;

export interface IssueContext {
  tc: ToolConnection;
  pod: V1Pod;
  /** What the agent asked for; clamped to the connection's limits. */
  durationSeconds: number | undefined;
  /** Opens the stored credential; only called for kinds that store one. */
  openStored: () => Promise<Credential>;
  signal: AbortSignal;
}

export type CredentialKind = CredentialResponse['kind'];

export function kindOf(tc: ToolConnection): CredentialKind {
  if (tc.spec.provider === 'generic') return 'generic';
  return tc.spec.aws?.authMethod === 'accessKey' ? 'aws/accessKey' : 'aws/assumeRole';
}

export class CredentialIssuer {
  private readonly sts: StsSettings;
  /** One client per region for calls under the manager's own identity. */
  private readonly clients = new Map<string, STSClient>();

  constructor(sts: StsSettings) {
    this.sts = sts;
  }

  async issue(context: IssueContext): Promise<CredentialResponse> {
    const { tc } = context;
    const kind = kindOf(tc);
    const connection = tc.metadata.name!;
    if (kind === 'generic') {
      const generic = tc.spec.generic!;
      return {
        connection,
        kind,
        generic: {
          purpose: generic.purpose,
          ...(generic.host ? { host: generic.host } : {}),
          ...(generic.port ? { port: generic.port } : {}),
          fields: await context.openStored(),
        },
      };
    }
    const region = tc.spec.aws!.region ?? 'us-east-1';
    const credentials =
      kind === 'aws/assumeRole' ? await this.assumeRole(context, region) : await this.fromAccessKey(context, region);
    return { connection, kind, ...credentials, aws: { ...credentials.aws, region } };
  }

  private async assumeRole(context: IssueContext, region: string): Promise<AwsIssued> {
    const { tc, pod } = context;
    const aws = tc.spec.aws!;
    const namespace = pod.metadata!.namespace!;
    const podName = pod.metadata!.name!;
    const schedule = pod.metadata?.labels?.[SCHEDULE_LABEL];
    const tags = [
      { Key: 'courier:namespace', Value: namespace },
      { Key: 'courier:pod', Value: podName.slice(0, TAG_VALUE_MAX) },
      ...(schedule ? [{ Key: 'courier:schedule', Value: schedule.slice(0, TAG_VALUE_MAX) }] : []),
      ...Object.entries(aws.sessionTags ?? {}).map(([Key, Value]) => ({ Key, Value })),
    ];
    const answer = await this.client(region)
      .send(
        new AssumeRoleCommand({
          RoleArn: aws.roleArn,
          RoleSessionName: sessionName(podName),
          DurationSeconds: clampDuration(context.durationSeconds, aws.sessionDurationSeconds),
          ...(aws.externalId ? { ExternalId: aws.externalId } : {}),
          ...(aws.sessionPolicy ? { Policy: aws.sessionPolicy } : {}),
          Tags: tags,
        }),
        { abortSignal: context.signal },
      )
      .catch(upstreamFailure);
    return sessionCredentials(answer.Credentials);
  }

  private async fromAccessKey(context: IssueContext, region: string): Promise<AwsIssued> {
    const aws = context.tc.spec.aws!;
    const stored = await context.openStored();
    const key = { accessKeyId: stored.accessKeyId!, secretAccessKey: stored.secretAccessKey! };
    if (aws.allowLongLivedKey) return { aws: key };
    const config: STSClientConfig = { region, maxAttempts: 2, credentials: key };
    if (this.sts.endpoint) config.endpoint = this.sts.endpoint;
    const client = new STSClient(config);
    try {
      const answer = await client
        .send(
          new GetSessionTokenCommand({
            DurationSeconds: clampDuration(context.durationSeconds, aws.sessionDurationSeconds),
          }),
          { abortSignal: context.signal },
        )
        .catch(upstreamFailure);
      return sessionCredentials(answer.Credentials);
    } finally {
      client.destroy();
    }
  }

  private client(region: string): STSClient {
    let client = this.clients.get(region);
    if (!client) {
      const config: STSClientConfig = { region, maxAttempts: 2 };
      if (this.sts.endpoint) config.endpoint = this.sts.endpoint;
      if (this.sts.credentials) config.credentials = this.sts.credentials;
      client = new STSClient(config);
      this.clients.set(region, client);
    }
    return client;
  }

  close(): void {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
  }
}

type AwsPart = Omit<NonNullable<CredentialResponse['aws']>, 'region'>;
/** AWS credentials before the region is added; expiration absent for a long-lived key. */
interface AwsIssued {
  aws: AwsPart;
  expiration?: string;
}

function sessionCredentials(credentials: Credentials | undefined): AwsIssued {
  if (!credentials?.AccessKeyId || !credentials.SecretAccessKey || !credentials.SessionToken || !credentials.Expiration)
    throw new BrokerDenial(502, 'UpstreamIncomplete', 'AWS STS returned incomplete credentials');
  return {
    aws: {
      accessKeyId: credentials.AccessKeyId,
      secretAccessKey: credentials.SecretAccessKey,
      sessionToken: credentials.SessionToken,
    },
    expiration: credentials.Expiration.toISOString(),
  };
}

/** The asked-for lifetime within [900 s, the connection's session duration]. */
export function clampDuration(requested: number | undefined, configured: number | undefined): number {
  const limit = Math.max(MIN_SESSION_SECONDS, configured ?? DEFAULT_SESSION_SECONDS);
  return Math.min(limit, Math.max(MIN_SESSION_SECONDS, requested ?? limit));
}

/** RoleSessionName allows 2-64 of [\w+=,.@-]; pod names are DNS names, so only the length needs care. */
function sessionName(podName: string): string {
  return `courier-${podName}`.slice(0, 64);
}

/** STS said no, or could not be reached: the agent sees a 502 with the AWS error name, never the message body. */
function upstreamFailure(error: unknown): never {
  if (error instanceof BrokerDenial) throw error;
  const name = error instanceof Error ? error.name : 'Error';
  if (name === 'AbortError' || name === 'TimeoutError')
    throw new BrokerDenial(504, 'UpstreamTimeout', 'AWS STS did not answer in time', 5);
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  throw new BrokerDenial(
    502,
    'UpstreamRefused',
    `AWS STS answered ${name}${status ? ` (HTTP ${status})` : ''}`,
    status && status >= 500 ? 5 : undefined,
  );
}
