// One data key per tenant (namespace), wrapped by the KEK and kept in a
// Secret of its own in Courier's namespace. Created on first use; unwrapped
// keys stay in memory only briefly.
import { randomBytes } from 'node:crypto';
import type { SecretDocument } from '../kube/secret-document.ts';
import { rewrapAll, type KeyEncryptionKey, type WrappedKey } from './kek/provider.ts';

export interface TenantKeyRing {
  current: string;
  keys: Array<WrappedKey & { id: string; createdAt: string }>;
}

export interface TenantKey {
  id: string;
  key: Uint8Array;
}

export const DEFAULT_KEY_CACHE_MS = 60_000;

export class TenantKeys {
  private readonly kek: KeyEncryptionKey;
  private readonly documentFor: (tenant: string) => SecretDocument<TenantKeyRing>;
  private readonly cacheMs: number;
  private readonly cache = new Map<string, { ring: TenantKeyRing; keys: Map<string, Uint8Array>; until: number }>();

  constructor(
    kek: KeyEncryptionKey,
    documentFor: (tenant: string) => SecretDocument<TenantKeyRing>,
    cacheMs = DEFAULT_KEY_CACHE_MS,
  ) {
    this.kek = kek;
    this.documentFor = documentFor;
    this.cacheMs = cacheMs;
  }

  /** The key new ciphertexts of this tenant use, created on first use. */
  async current(tenant: string): Promise<TenantKey> {
    let entry = await this.entry(tenant);
    if (!entry) {
      await this.documentFor(tenant).update(async (ring) => ring ?? (await this.addKey(tenant, undefined)));
      entry = await this.entry(tenant, true);
    }
    return { id: entry!.ring.current, key: await this.unwrapped(tenant, entry!.ring.current) };
  }

  /** A key by id, for opening what an older key sealed. */
  async get(tenant: string, id: string): Promise<Uint8Array> {
    return this.unwrapped(tenant, id);
  }

  /** Adds a new key and makes it current; older keys stay readable. */
  async rotate(tenant: string): Promise<string> {
    const ring = await this.documentFor(tenant).update((current) => this.addKey(tenant, current));
    this.cache.delete(tenant);
    return ring!.current;
  }

  /** Re-wraps every key of the tenant not wrapped by the current KEK version. Returns how many. */
  async rewrap(tenant: string): Promise<number> {
    let count = 0;
    await this.documentFor(tenant).update(async (ring) => {
      if (!ring) return undefined;
      const { entries, rewrapped } = await rewrapAll(this.kek, ring.keys, (key) => context(tenant, key.id));
      count = rewrapped;
      return rewrapped > 0 ? { ...ring, keys: entries } : undefined;
    });
    this.cache.delete(tenant);
    return count;
  }

  /** Whether any key of the tenant is still wrapped by an older KEK version. */
  async needsRewrap(tenant: string): Promise<boolean> {
    const [ring, kekId] = await Promise.all([this.documentFor(tenant).read(), this.kek.currentId()]);
    return ring?.keys.some((k) => k.kekId !== kekId) ?? false;
  }

  private async addKey(tenant: string, ring: TenantKeyRing | undefined): Promise<TenantKeyRing> {
    const id = `k${(ring?.keys.length ?? 0) + 1}`;
    const wrapped = await this.kek.wrap(randomBytes(32), context(tenant, id));
    return { current: id, keys: [...(ring?.keys ?? []), { id, ...wrapped, createdAt: new Date().toISOString() }] };
  }

  private async entry(tenant: string, refresh = false) {
    const cached = this.cache.get(tenant);
    if (!refresh && cached && cached.until > Date.now()) return cached;
    const ring = await this.documentFor(tenant).read();
    if (!ring) return undefined;
    const entry = { ring, keys: new Map<string, Uint8Array>(), until: Date.now() + this.cacheMs };
    this.cache.set(tenant, entry);
    return entry;
  }

  private async unwrapped(tenant: string, id: string): Promise<Uint8Array> {
    let entry = await this.entry(tenant);
    if (!entry?.ring.keys.some((k) => k.id === id)) entry = await this.entry(tenant, true);
    const wrapped = entry?.ring.keys.find((k) => k.id === id);
    if (!entry || !wrapped) throw new Error(`tenant ${tenant} has no data key ${id}`);
    let key = entry.keys.get(id);
    if (!key) {
      key = await this.kek.unwrap(wrapped, context(tenant, id));
      entry.keys.set(id, key);
    }
    return key;
  }
}

const context = (tenant: string, id: string) => `tenant:${tenant}/${id}`;
