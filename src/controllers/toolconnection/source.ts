// Reads the Secret that delivers a ToolConnection's secret part: plain fields,
// or one JWE (key `credential.jwe`) that `kubectl courier connect` encrypted
// to the manager's upload key. Checks the fields the kind needs. Problems
// name fields, never values.
import type { V1Secret } from '@kubernetes/client-node';
import type { ToolConnection } from '../../api/v1alpha1/index.ts';
import type { Credential } from '../../crypto/fingerprint.ts';
import type { UploadKeys } from '../../crypto/upload-keys.ts';

export const UPLOAD_KEY = 'credential.jwe';
const FIELD_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;

/** What kind of credential a ToolConnection stores, or undefined if it stores none. */
export function credentialKind(tc: ToolConnection): 'aws/accessKey' | 'generic' | undefined {
  if (tc.spec.provider === 'generic') return 'generic';
  return tc.spec.aws?.authMethod === 'accessKey' ? 'aws/accessKey' : undefined;
}

export class SourceProblem extends Error {
  readonly reason: string;

  constructor(reason: string, message: string) {
    super(message);
    this.name = 'SourceProblem';
    this.reason = reason;
  }
}

export async function readCredential(
  tc: ToolConnection,
  secret: V1Secret,
  uploadKeys: UploadKeys,
): Promise<Credential> {
  const data = secret.data ?? {};
  const fields = Object.keys(data);
  let credential: Credential;
  if (fields.length === 1 && fields[0] === UPLOAD_KEY) {
    try {
      credential = await uploadKeys.decrypt(Buffer.from(data[UPLOAD_KEY]!, 'base64').toString(), {
        namespace: tc.metadata.namespace!,
        name: tc.metadata.name!,
      });
    } catch (error) {
      throw new SourceProblem('UndecryptableSource', `cannot decrypt ${UPLOAD_KEY}: ${(error as Error).message}`);
    }
  } else {
    credential = Object.fromEntries(fields.map((f) => [f, Buffer.from(data[f]!, 'base64').toString()]));
  }
  checkShape(tc, credential);
  return credential;
}

function checkShape(tc: ToolConnection, credential: Credential): void {
  const fields = Object.keys(credential);
  const bad = fields.filter((f) => !FIELD_NAME.test(f));
  if (bad.length > 0)
    throw new SourceProblem('InvalidSource', `field names must be letters, digits, ".", "_" or "-": ${bad.join(', ')}`);
  const required =
    credentialKind(tc) === 'aws/accessKey'
      ? ['accessKeyId', 'secretAccessKey']
      : (tc.spec.generic?.requiredFields ?? []);
  const missing = required.filter((f) => !credential[f]);
  if (missing.length > 0) throw new SourceProblem('InvalidSource', `the Secret lacks ${missing.join(', ')}`);
  if (fields.length === 0) throw new SourceProblem('InvalidSource', 'the Secret holds no fields');
  const key = credential.accessKeyId;
  if (key !== undefined && credentialKind(tc) === 'aws/accessKey' && !/^(AKIA|ASIA)[A-Z0-9]{12,124}$/.test(key)) {
    throw new SourceProblem('InvalidSource', 'accessKeyId does not look like an AWS access key id (AKIA…)');
  }
}
