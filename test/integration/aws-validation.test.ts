// Validation against an STS that checks credentials (moto enforcing auth):
// a real key is confirmed with its account; a revoked or made-up key fails
// with AWS's error code, and no secret appears in the error.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ToolConnection } from '../../src/api/v1alpha1/index.ts';
import { AwsValidationError, validateAws } from '../../src/controllers/toolconnection/aws-validation.ts';
import { startMoto, type MotoPeer } from '../support/peers.ts';

let moto: MotoPeer;
let realKey: { accessKeyId: string; secretAccessKey: string };

async function iam(action: string, params: Record<string, string>): Promise<string> {
  // Unauthenticated IAM calls (moto allows the first two): create a user and a key.
  const body = new URLSearchParams({ Action: action, Version: '2010-05-08', ...params });
  const response = await fetch(moto.endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/iam/aws4_request',
    },
    body,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${action}: HTTP ${response.status} ${text}`);
  return text;
}

beforeAll(async () => {
  moto = await startMoto({ enforceAuthAfter: 2 });
  await iam('CreateUser', { UserName: 'scanner' });
  const xml = await iam('CreateAccessKey', { UserName: 'scanner' });
  realKey = {
    accessKeyId: /<AccessKeyId>([^<]+)<\/AccessKeyId>/.exec(xml)![1]!,
    secretAccessKey: /<SecretAccessKey>([^<]+)<\/SecretAccessKey>/.exec(xml)![1]!,
  };
});

afterAll(() => moto?.stop());

const accessKeyConnection = (accountId?: string): ToolConnection => ({
  apiVersion: 'courier.dev/v1alpha1',
  kind: 'ToolConnection',
  metadata: { name: 'legacy', namespace: 'team-a' },
  spec: {
    provider: 'aws',
    aws: { authMethod: 'accessKey', ...(accountId ? { accountId } : {}) },
    credentialsSecretRef: { name: 'src' },
  },
});

describe('AWS validation against an STS that checks credentials', () => {
  it('confirms a real key and its account', async () => {
    const identity = await validateAws(accessKeyConnection('123456789012'), realKey, { endpoint: moto.endpoint });
    expect(identity).toEqual({ accountId: '123456789012', arn: 'arn:aws:iam::123456789012:user/scanner' });
  });

  it('fails a made-up key with the AWS error code, without the secret', async () => {
    const secret = randomBytes(30).toString('base64');
    const error = await validateAws(
      accessKeyConnection(),
      { accessKeyId: 'AKIAFAKEFAKEFAKE0000', secretAccessKey: secret },
      {
        endpoint: moto.endpoint,
      },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AwsValidationError);
    expect((error as AwsValidationError).code).toBe('InvalidClientTokenId');
    expect((error as Error).message).toBe('AWS answered InvalidClientTokenId (HTTP 403)');
    expect(JSON.stringify(error)).not.toContain(secret);
  });
});
