// Proves an AWS connection works: with a stored access key, STS
// GetCallerIdentity under that key; for assumeRole, AssumeRole with the
// ExternalId under the manager's own identity, then GetCallerIdentity under
// the session it got. Errors carry the AWS error code, never a secret.
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import type { ToolConnection } from '../../api/v1alpha1/index.ts';
import type { Credential } from '../../crypto/fingerprint.ts';

export interface AwsIdentity {
  accountId: string;
  arn: string;
}

export interface StsSettings {
  /** An STS endpoint other than the region's (a VPC endpoint, a test server). */
  endpoint?: string;
  /** The manager's identity for AssumeRole; the SDK's default chain when absent. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export class AwsValidationError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'AwsValidationError';
    this.code = code;
  }
}

function client(region: string, settings: StsSettings, credentials?: StsSettings['credentials']): STSClient {
  const config: STSClientConfig = { region, maxAttempts: 2 };
  if (settings.endpoint) config.endpoint = settings.endpoint;
  const identity = credentials ?? settings.credentials;
  if (identity) config.credentials = identity;
  return new STSClient(config);
}

export async function validateAws(
  tc: ToolConnection,
  credential: Credential | undefined,
  settings: StsSettings,
): Promise<AwsIdentity> {
  const aws = tc.spec.aws!;
  const region = aws.region ?? 'us-east-1';
  try {
    let sts: STSClient;
    if (aws.authMethod === 'accessKey') {
      sts = client(region, settings, {
        accessKeyId: credential!.accessKeyId!,
        secretAccessKey: credential!.secretAccessKey!,
      });
    } else {
      const assumed = await client(region, settings).send(
        new AssumeRoleCommand({
          RoleArn: aws.roleArn,
          RoleSessionName: `courier-validate-${tc.metadata.namespace}`.slice(0, 64),
          DurationSeconds: 900,
          ...(aws.externalId ? { ExternalId: aws.externalId } : {}),
        }),
      );
      const c = assumed.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey)
        throw new AwsValidationError('NoCredentials', 'AssumeRole returned no credentials');
      sts = client(region, settings, {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken ?? '',
      });
    }
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    if (!identity.Account || !identity.Arn)
      throw new AwsValidationError('NoIdentity', 'GetCallerIdentity returned no account');
    if (aws.accountId && identity.Account !== aws.accountId) {
      throw new AwsValidationError(
        'AccountMismatch',
        `the credential reaches account ${identity.Account}, not ${aws.accountId}`,
      );
    }
    return { accountId: identity.Account, arn: identity.Arn };
  } catch (error) {
    if (error instanceof AwsValidationError) throw error;
    const code = error instanceof Error ? error.name : 'Error';
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    throw new AwsValidationError(code, `AWS answered ${code}${status ? ` (HTTP ${status})` : ''}`);
  }
}
