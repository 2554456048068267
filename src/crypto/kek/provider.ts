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

/**
 * Re-wraps, under the KEK's current version, every entry wrapped by another
 * one; `context` gives each entry's binding. Returns the entries (unchanged
 * ones as they were) and how many were re-wrapped.
 */
export async function rewrapAll<T extends WrappedKey>(
  kek: KeyEncryptionKey,
  entries: readonly T[],
  context: (entry: T) => string,
): Promise<{ entries: T[]; rewrapped: number }> {
  const kekId = await kek.currentId();
  const result: T[] = [];
  let rewrapped = 0;
  for (const entry of entries) {
    if (entry.kekId === kekId) {
      result.push(entry);
      continue;
    }
    const material = await kek.unwrap(entry, context(entry));
    result.push({ ...entry, ...(await kek.wrap(material, context(entry))) });
    rewrapped++;
  }
  return { entries: result, rewrapped };
}
