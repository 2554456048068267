// The interface every upstream store implements. Stores only ever see
// ciphertext: Courier seals a credential (src/crypto) before it reaches one.

/** Identifies one credential: a ToolConnection in a tenant namespace. */
export interface SecretRef {
  tenant: string;
  name: string;
}

export interface StoredVersion {
  /** The store's own version identifier. */
  version: string;
  createdAt?: Date;
}

export interface StoredSecret extends StoredVersion {
  payload: string;
}

export interface PutOptions {
  /**
   * Optimistic concurrency: the version the caller believes is current, or
   * null for "the secret must not exist yet". A mismatch is a Conflict error.
   * Omitted: append a version whatever is there.
   */
  expectedCurrent?: string | null;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface SecretStore {
  /** The name the admin gave this store in the configuration. */
  readonly name: string;
  /** The implementation, e.g. "kubernetes". */
  readonly type: string;
  putVersion(ref: SecretRef, payload: string, options?: PutOptions & CallOptions): Promise<StoredVersion>;
  /** The given version, or the newest when none is given. */
  get(ref: SecretRef, version?: string, options?: CallOptions): Promise<StoredSecret>;
  /** Versions, oldest first. NotFound if the secret does not exist. */
  listVersions(ref: SecretRef, options?: CallOptions): Promise<StoredVersion[]>;
  /** Deletes every version. Deleting what is already gone succeeds. */
  delete(ref: SecretRef, options?: CallOptions): Promise<void>;
  /** Resolves when the store answers; throws a StoreError otherwise. */
  health(options?: CallOptions): Promise<void>;
}
