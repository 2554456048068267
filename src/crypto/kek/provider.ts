// Key-encryption keys (KEKs) wrap the per-tenant data keys. Providers sit
// behind this interface and register by name, like the stores.

/** Key material wrapped by a KEK version, with that version's id. */
export interface WrappedKey {
  kekId: string;
  wrapped: string;
}

export interface KeyEncryptionKey {
  readonly provider: string;
  /** The id of the KEK version new wraps use. */
  currentId(): Promise<string>;
  /** Wraps key material under the current version, bound to `context`. */
  wrap(key: Uint8Array, context: string): Promise<WrappedKey>;
  /** Unwraps with the version named in `wrapped`; fails if `context` differs. */
  unwrap(wrapped: WrappedKey, context: string): Promise<Uint8Array>;
  /**
   * Makes a new version current and returns its id. Old versions stay
   * usable for unwrapping, so rotation never breaks a reader.
   */
  rotate(): Promise<string>;
}
