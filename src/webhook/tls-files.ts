// The serving certificate and key, re-read when they change on disk. The
// manager rotates them by rewriting the mounted Secret; the kubelet swaps the
// files in atomically, and a server given the new pair for new connections
// serves on without dropping a request.
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../log/logger.ts';
import { registerSecret } from '../log/redact.ts';

export interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

export interface TlsFilesOptions {
  certFile: string;
  keyFile: string;
  logger: Logger;
  /** How often the files' metadata is checked. */
  pollIntervalMs: number;
}

export class TlsFiles {
  readonly #options: TlsFilesOptions;
  #loaded = '';
  /** The file state last found unusable, so a lasting problem is logged once, not every poll. */
  #failed = '';
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(options: TlsFilesOptions) {
    this.#options = options;
  }

  /**
   * Reads the pair now.
   * @throws Error when a file is missing or the two do not make a usable pair.
   */
  async load(): Promise<KeyPair> {
    const version = await this.#version();
    const pair = await this.#read();
    this.#loaded = version;
    return pair;
  }

  /** Calls `apply` with each new usable pair until stopped. */
  watch(apply: (pair: KeyPair) => void): void {
    this.#timer = setInterval(() => void this.#poll(apply), this.#options.pollIntervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #poll(apply: (pair: KeyPair) => void): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    let version = '';
    try {
      version = await this.#version();
      if (version === this.#loaded) return;
      const pair = await this.#read();
      apply(pair);
      this.#loaded = version;
      this.#failed = '';
      this.#options.logger.info(describe(pair.cert), 'TLS certificate reloaded');
    } catch (err) {
      // Half-way through a non-atomic rewrite the cert and key may not match
      // yet: keep serving the old pair and look again at the next poll.
      if (version !== this.#failed) {
        this.#options.logger.warn(
          { err },
          'TLS certificate files changed but cannot be used yet; keeping the old ones',
        );
      }
      this.#failed = version;
    } finally {
      this.#polling = false;
    }
  }

  /** Changes whenever either file is rewritten or replaced, as the kubelet does through a symlink swap. */
  async #version(): Promise<string> {
    const stats = await Promise.all(
      [this.#options.certFile, this.#options.keyFile].map((file) => stat(file, { bigint: true })),
    );
    return stats.map((s) => `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`).join('/');
  }

  async #read(): Promise<KeyPair> {
    const [cert, key] = await Promise.all([readFile(this.#options.certFile), readFile(this.#options.keyFile)]);
    registerSecret(key.toString());
    // Throws unless the key is the certificate's.
    createSecureContext({ cert, key });
    return { cert, key };
  }
}

function describe(cert: Buffer): Record<string, string> {
  const x509 = new X509Certificate(cert);
  return { subject: x509.subject, notAfter: x509.validTo, fingerprint: x509.fingerprint256 };
}
