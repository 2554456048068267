// The `aws-kms` KEK: wrapping is KMS Encrypt/Decrypt under a customer managed
// key, with the binding context as the KMS encryption context (so it is
// authenticated and shows in CloudTrail). The key material never leaves KMS.
//
// KMS keeps every backing version of a key, so ciphertexts stay readable
// after KMS rotates it; `rotate` asks KMS for an on-demand rotation. Moving to
// another key is a configuration change: the next `rotate-keys` run sees keys
// wrapped by the old key id and re-wraps them under the new one.
import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  KMSClient,
  RotateKeyOnDemandCommand,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import type { KeyEncryptionKey, WrappedKey } from './provider.ts';

export interface AwsKmsKekConfig {
  /** Key id, ARN, alias name or alias ARN. */
  keyId: string;
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

const CONTEXT_KEY = 'courier.dev/context';
const PREFIX = 'aws-kms:';

export class AwsKmsKek implements KeyEncryptionKey {
  readonly provider = 'aws-kms';
  private readonly client: KMSClient;
  private readonly keyId: string;
  private arn: Promise<string> | undefined;

  constructor(config: AwsKmsKekConfig) {
    const clientConfig: KMSClientConfig = { region: config.region };
    if (config.endpoint) clientConfig.endpoint = config.endpoint;
    if (config.credentials) clientConfig.credentials = config.credentials;
    this.client = new KMSClient(clientConfig);
    this.keyId = config.keyId;
  }

  async currentId(): Promise<string> {
    return PREFIX + (await this.keyArn());
  }

  async wrap(key: Uint8Array, context: string): Promise<WrappedKey> {
    const result = await this.client.send(
      new EncryptCommand({ KeyId: await this.keyArn(), Plaintext: key, EncryptionContext: { [CONTEXT_KEY]: context } }),
    );
    if (!result.CiphertextBlob || !result.KeyId) throw new Error('KMS Encrypt returned no ciphertext');
    return { kekId: PREFIX + result.KeyId, wrapped: Buffer.from(result.CiphertextBlob).toString('base64') };
  }

  async unwrap(wrapped: WrappedKey, context: string): Promise<Uint8Array> {
    if (!wrapped.kekId.startsWith(PREFIX)) throw new Error(`not an aws-kms key id: ${wrapped.kekId}`);
    const result = await this.client.send(
      new DecryptCommand({
        KeyId: wrapped.kekId.slice(PREFIX.length),
        CiphertextBlob: Buffer.from(wrapped.wrapped, 'base64'),
        EncryptionContext: { [CONTEXT_KEY]: context },
      }),
    );
    if (!result.Plaintext) throw new Error('KMS Decrypt returned no plaintext');
    return result.Plaintext;
  }

  async rotate(): Promise<string> {
    await this.client.send(new RotateKeyOnDemandCommand({ KeyId: await this.keyArn() }));
    return this.currentId();
  }

  /** The key's ARN, so aliases and ids compare equal to what Encrypt reports. */
  private keyArn(): Promise<string> {
    this.arn ??= this.client.send(new DescribeKeyCommand({ KeyId: this.keyId })).then(
      (result) => {
        const arn = result.KeyMetadata?.Arn;
        if (!arn) throw new Error(`KMS key ${this.keyId} has no ARN`);
        return arn;
      },
      (error: unknown) => {
        this.arn = undefined;
        throw error;
      },
    );
    return this.arn;
  }
}
