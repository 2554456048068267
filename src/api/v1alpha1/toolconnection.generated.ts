// Generated from crds/courier.dev_toolconnections.yaml by hack/gen-api.ts (npm run gen). Do not edit.
import type { V1Condition, V1ObjectMeta } from '@kubernetes/client-node';

/**
 * ToolConnection declares how a scan reaches an account or a host. Its secret part arrives once through credentialsSecretRef; Courier stores it encrypted upstream, validates it and hands short-lived credentials to pods that opted in.
 */
export interface ToolConnection {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec: ToolConnectionSpec;
  status?: ToolConnectionStatus;
}
export interface ToolConnectionSpec {
  /**
   * What kind of credential this is. Immutable.
   */
  provider: 'aws' | 'generic';
  aws?: AwsConnectionSpec;
  generic?: GenericConnectionSpec;
  credentialsSecretRef?: CredentialsSecretRef;
  /**
   * The configured upstream store to keep the credential in; empty means the admin's default store.
   */
  store?: string;
  access?: AccessSpec;
  rotation?: RotationSpec;
  validation?: ValidationSpec;
}
/**
 * An AWS account, reached by assuming a role (recommended) or with an access key.
 */
export interface AwsConnectionSpec {
  /**
   * assumeRole: Courier assumes roleArn with externalId and hands out session credentials; nothing long-lived is stored. accessKey: an IAM user's key is stored encrypted and, by default, turned into session credentials at hand-out.
   */
  authMethod: 'assumeRole' | 'accessKey';
  /**
   * The IAM role to assume, e.g. arn:aws:iam::123456789012:role/ScanRole.
   */
  roleArn?: string;
  /**
   * The ExternalId the role's trust policy requires (2 to 1224 characters).
   */
  externalId?: string;
  /**
   * The account this connection must reach; validation fails if STS reports another.
   */
  accountId?: string;
  /**
   * The AWS region whose STS endpoint is used.
   */
  region?: string;
  /**
   * Lifetime of issued session credentials.
   */
  sessionDurationSeconds?: number;
  /**
   * An inline IAM policy (JSON) that further limits the assumed role's session.
   */
  sessionPolicy?: string;
  /**
   * Session tags added to every AssumeRole call, beside Courier's own (courier:namespace, courier:pod, courier:schedule).
   */
  sessionTags?: {
    [k: string]: string | undefined;
  };
  /**
   * Hand pods the stored access key itself instead of STS session credentials. Only for tools that cannot use session tokens.
   */
  allowLongLivedKey?: boolean;
}
/**
 * Host credentials for a purpose (ssh, winrm, rdp, http, database or a custom name). The secret fields (username, password, privateKey, domain, extra fields) arrive through credentialsSecretRef.
 */
export interface GenericConnectionSpec {
  /**
   * ssh, winrm, rdp, http, database, or a custom lower-case name.
   */
  purpose: string;
  /**
   * The host (DNS name or IP address) these credentials are for.
   */
  host?: string;
  port?: number;
  /**
   * Fields the source Secret must contain; ingestion fails if one is missing.
   *
   * @maxItems 32
   */
  requiredFields?: string[];
}
/**
 * The Secret, in this namespace, that delivers the secret part once: plain fields, or a single JWE encrypted by kubectl courier connect to the manager's public key. Courier ingests it and then deletes it (see deletionPolicy).
 */
export interface CredentialsSecretRef {
  name: string;
  /**
   * Delete (default) removes the source Secret once the credential is stored upstream; Retain keeps it.
   */
  deletionPolicy?: 'Delete' | 'Retain';
}
/**
 * Who may receive the credential. Default deny.
 */
export interface AccessSpec {
  /**
   * Service accounts in this namespace whose pods may receive the credential.
   *
   * @maxItems 64
   */
  serviceAccounts?: string[];
}
/**
 * Rotation advice for long-lived keys.
 */
export interface RotationSpec {
  /**
   * Age after which an access key is reported RotationDue, e.g. 90d, 2160h.
   */
  maxKeyAge?: string;
}
/**
 * How often Courier proves the credential still works.
 */
export interface ValidationSpec {
  /**
   * Time between validations, e.g. 6h, 30m, 1d.
   */
  interval?: string;
}
export interface ToolConnectionStatus {
  /**
   * The metadata.generation this status describes.
   */
  observedGeneration?: number;
  /**
   * Ready, Stored, Validated and RotationDue.
   */
  conditions?: V1Condition[];
  /**
   * Keyed HMAC-SHA256 of the credential; equal whatever the store, never the secret.
   */
  fingerprint?: string;
  /**
   * The store that holds the credential.
   */
  store?: string;
  /**
   * The store's version identifier of the current credential.
   */
  storeVersion?: string;
  /**
   * The AWS account the credential reaches, from STS GetCallerIdentity.
   */
  accountId?: string;
  /**
   * The identity the credential reaches (GetCallerIdentity's Arn).
   */
  arn?: string;
  /**
   * When the current long-lived key was stored; its age drives RotationDue.
   */
  keyCreatedTime?: string;
  /**
   * When the credential last passed validation.
   */
  lastValidatedTime?: string;
  /**
   * When the broker last issued credentials from this connection to a pod.
   */
  lastIssuedTime?: string;
  /**
   * How many times the broker has issued credentials from this connection.
   */
  issuedCount?: number;
  /**
   * Pods refused the credential, newest first, so an admin can grant access.
   *
   * @maxItems 50
   */
  accessRequests?: AccessRequest[];
}
export interface AccessRequest {
  serviceAccount: string;
  lastPod?: string;
  reason?: string;
  firstTime: string;
  lastTime: string;
  count: number;
}
