// A local HTTPS server that speaks the broker's side of the delivery
// contract, for the agent's tests: a CA, a serving certificate for
// 127.0.0.1, and a handler each test scripts.
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { CREDENTIALS_PATH, type CredentialRequest } from '../../api/v1alpha1/delivery.ts';
import { createCertificateAuthority, issueCertificate, type CertificateAuthority } from '../../crypto/pki.ts';

export interface ReceivedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: CredentialRequest;
  /** performance.now() when the request arrived. */
  at: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string as it is. */
  body?: unknown;
  /** Never answer (the request hangs until the client gives up). */
  hang?: boolean;
  /** Send `body` in this many chunks, without a Content-Length. */
  chunks?: number;
}

export type Handler = (request: ReceivedRequest, index: number) => Answer | Promise<Answer>;

export class FakeBroker {
  readonly requests: ReceivedRequest[] = [];
  handler: Handler = () => ({ status: 500, body: { code: 500, reason: 'NotScripted', message: 'no handler' } });
  readonly #server: Server;
  readonly #hanging = new Set<() => void>();

  private constructor(server: Server) {
    this.#server = server;
    server.on('request', (req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        const received: ReceivedRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          authorization: req.headers.authorization,
          contentType: req.headers['content-type'],
          body: JSON.parse(text || '{}') as CredentialRequest,
          at: performance.now(),
        };
        const index = this.requests.push(received) - 1;
        void Promise.resolve(this.handler(received, index)).then((answer) => {
          if (answer.hang) {
            this.#hanging.add(() => res.destroy());
            return;
          }
          const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
          res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
          const size = Math.ceil(body.length / (answer.chunks ?? 1));
          for (let start = 0; answer.chunks && start < body.length; start += size) {
            res.write(body.slice(start, start + size));
          }
          res.end(answer.chunks ? undefined : body);
        });
      });
    });
  }

  /** Starts a server on 127.0.0.1 with a certificate from `ca` (a fresh CA when omitted). */
  static async start(ca?: CertificateAuthority): Promise<{ broker: FakeBroker; ca: CertificateAuthority }> {
    const authority = ca ?? (await createCertificateAuthority('courier-test-broker-ca', 1));
    const serving = await issueCertificate(authority, {
      commonName: 'courier-broker',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
      validityDays: 1,
    });
    const server = createServer({ cert: serving.certPem, key: serving.keyPem });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { broker: new FakeBroker(server), ca: authority };
  }

  get url(): string {
    return `https://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  get credentialsPath(): string {
    return CREDENTIALS_PATH;
  }

  async stop(): Promise<void> {
    for (const release of this.#hanging) release();
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }
}

/** Writes a CA's certificate where the agent's --ca-file points. */
export async function writeCaFile(dir: string, ca: CertificateAuthority, name = 'ca.crt'): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, ca.certPem);
  return file;
}
