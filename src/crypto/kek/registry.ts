// The KEK the configuration file asks for.
import type { KekConfig } from '../../config/file.ts';
import { AwsKmsKek } from './aws-kms.ts';
import { GcpKmsKek } from './gcp-kms.ts';
import type { KeyEncryptionKey } from './provider.ts';

/** undefined means the `local` KEK, which the key hierarchy builds itself. */
export function kekFromConfig(config: KekConfig): KeyEncryptionKey | undefined {
  switch (config.provider) {
    case 'local':
      return undefined;
    case 'aws-kms':
      return new AwsKmsKek(config.awsKms);
    case 'gcp-kms':
      return new GcpKmsKek(config.gcpKms);
  }
}
