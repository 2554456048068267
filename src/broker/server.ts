// The broker's HTTPS endpoint, POST /v1/credentials. HTTP concerns only:
// bounded bodies, content type, timeouts, and answering every failure —
// including a body that does not parse — with a JSON BrokerError and a 4xx.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { CREDENTIALS_PATH, type BrokerError } from '../api/v1alpha1/delivery.ts';
import type { BindAddress } from '../config/bind-address.ts';
import type { Logger } from '../log/logger.ts';
import type { Broker } from './broker.ts';

/** A request is a connection name and a duration; anything near this is not one. */
const MAX_BODY = '16kb';
const REQUEST_TIMEOUT_MS = 15_000;
const HEADERS_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface ServingCertificate {
  certPem: string;
  keyPem: string;
}

export class BrokerServer {
  private readonly broker: Broker;
  private readonly logger: Logger;
  private server: Server | undefined;

  constructor(broker: Broker, logger: Logger) {
    this.broker = broker;
    this.logger = logger;
  }

  async listen(address: BindAddress, certificate: ServingCertificate): Promise<BindAddress> {
    const server = createServer(
      {
        cert: certificate.certPem,
        key: certificate.keyPem,
        minVersion: 'TLSv1.2',
        requestTimeout: REQUEST_TIMEOUT_MS,
        headersTimeout: HEADERS_TIMEOUT_MS,
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      },
      this.app(),
    );
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host || undefined, () => resolve());
    });
    const bound = server.address() as AddressInfo;
    return { host: address.host, port: bound.port };
  }

  /** New connections use the new certificate; open ones finish with the old. */
  updateCertificate(certificate: ServingCertificate): void {
    this.server?.setSecureContext({ cert: certificate.certPem, key: certificate.keyPem });
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }

  private app(): express.Express {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.post(
      CREDENTIALS_PATH,
      (req: Request, res: Response, next: NextFunction) => {
        if (!req.is('application/json')) return sendError(res, 415, 'UnsupportedMediaType', 'send application/json');
        next();
      },
      express.json({ limit: MAX_BODY, strict: false }),
      async (req: Request, res: Response) => {
        const answer = await this.broker.handle(req.headers.authorization, req.body, req.socket.remoteAddress);
        if (answer.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(answer.retryAfterSeconds));
        res.setHeader('Cache-Control', 'no-store');
        res.status(answer.status).json(answer.body);
      },
    );
    app.all(CREDENTIALS_PATH, (_req: Request, res: Response) => {
      res.setHeader('Allow', 'POST');
      sendError(res, 405, 'MethodNotAllowed', `use POST ${CREDENTIALS_PATH}`);
    });
    app.use((_req: Request, res: Response) =>
      sendError(res, 404, 'NotFound', `the broker serves POST ${CREDENTIALS_PATH} only`),
    );
    // Body parser failures (too large, not JSON) and anything unexpected.
    app.use((error: { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
      if (error.type === 'entity.too.large')
        return sendError(res, 413, 'RequestTooLarge', `the body is larger than ${MAX_BODY}`);
      if (error.type === 'entity.parse.failed') return sendError(res, 400, 'BadRequest', 'the body is not valid JSON');
      if (error.status && error.status >= 400 && error.status < 500)
        return sendError(res, error.status, 'BadRequest', 'the request could not be read');
      this.logger.error({ err: error }, 'broker request failed');
      return sendError(res, 500, 'InternalError', 'the broker failed; see its log');
    });
    return app;
  }
}

function sendError(res: Response, code: number, reason: string, message: string): void {
  const body: BrokerError = { code, reason, message };
  res.status(code).json(body);
}
