// Wires the key hierarchy kept in Courier's namespace:
//   KEK (provider) ─wraps→ one data key per tenant ─seals→ credentials
//                  ├wraps→ the fingerprint HMAC key
//                  └wraps→ the upload key pairs (public halves in a ConfigMap)
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { SecretDocument } from '../kube/secret-document.ts';
import { CredentialSealer } from './envelope.ts';
import { Fingerprinter } from './fingerprint.ts';
import { LocalKek, type LocalKekDocument } from './kek/local.ts';
import type { KeyEncryptionKey, WrappedKey } from './kek/provider.ts';
import { TenantKeys, type TenantKeyRing } from './tenant-keys.ts';
import { UploadKeys, type UploadKeysDocument } from './upload-keys.ts';

const MANAGED = { 'app.kubernetes.io/managed-by': 'courier' };
const ROLE_LABEL = 'courier.dev/role';
const TENANT_LABEL = 'courier.dev/tenant';
export const KEY_SECRET_TYPE = 'courier.dev/key';
/** The ConfigMap with the upload keys' JWKS, which users may read. */
export const UPLOAD_KEYS_CONFIGMAP = 'courier-upload-keys';

export interface KeyHierarchy {
  kek: KeyEncryptionKey;
  tenantKeys: TenantKeys;
  sealer: CredentialSealer;
  fingerprinter: Fingerprinter;
  uploadKeys: UploadKeys;
  /** Tenants that have a data key. */
  tenants(): Promise<string[]>;
}

export interface KeyHierarchyOptions {
  namespace: string;
  /** The KEK; default the `local` one, in Secret courier-kek. */
  kek?: KeyEncryptionKey;
  keyCacheMs?: number;
}

export function createKeyHierarchy(kubeConfig: KubeConfig, options: KeyHierarchyOptions): KeyHierarchy {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const { namespace } = options;
  const document = <T>(name: string, labels: Record<string, string>) =>
    new SecretDocument<T>(api, { namespace, name, labels: { ...MANAGED, ...labels }, type: KEY_SECRET_TYPE });

  const kek = options.kek ?? new LocalKek(document<LocalKekDocument>('courier-kek', { [ROLE_LABEL]: 'kek' }));
  const tenantKeys = new TenantKeys(
    kek,
    (tenant) =>
      document<TenantKeyRing>(`courier-dek-${tenant}`, { [ROLE_LABEL]: 'tenant-key', [TENANT_LABEL]: tenant }),
    options.keyCacheMs,
  );
  return {
    kek,
    tenantKeys,
    sealer: new CredentialSealer(tenantKeys),
    fingerprinter: new Fingerprinter(
      kek,
      document<WrappedKey>('courier-fingerprint-key', { [ROLE_LABEL]: 'fingerprint-key' }),
    ),
    uploadKeys: new UploadKeys({
      kek,
      document: document<UploadKeysDocument>('courier-upload-keys', { [ROLE_LABEL]: 'upload-keys' }),
      core: api,
      namespace,
      configMapName: UPLOAD_KEYS_CONFIGMAP,
    }),
    async tenants() {
      const list = await api.listNamespacedSecret({ namespace, labelSelector: `${ROLE_LABEL}=tenant-key` });
      return list.items
        .map((s) => s.metadata?.labels?.[TENANT_LABEL])
        .filter((t): t is string => !!t)
        .sort();
    },
  };
}
