// Keeps Courier's TLS current from inside the manager: the broker's and the
// webhook's serving certificates, the webhook configuration's caBundle and
// the broker CA ConfigMaps. Runs at start, then often enough to renew well
// before expiry (a sixth of the validity, at most hourly). When another
// issuer keeps the certificates (cert-manager), it is given no webhook
// target and no configuration name: it then only follows the broker's
// Secret and publishes its CA.
import type { Logger } from '../log/logger.ts';
import type { CaDistribution } from './ca-distribution.ts';
import type { ServingCertificate, ServingCertificates, ServingCertificateTarget } from './serving-certificates.ts';

export interface CertificateKeeperOptions {
  /** ServingCertificates issues and renews; ProvidedCertificates only reads what another issuer wrote. */
  certificates: Pick<ServingCertificates, 'ensure' | 'caBundle'>;
  distribution: CaDistribution;
  broker: ServingCertificateTarget;
  /** Issued and renewed when given. */
  webhook?: ServingCertificateTarget;
  /** The MutatingWebhookConfiguration whose caBundle is kept current, when given. */
  webhookConfigurationName?: string;
  /** Namespaces that hold ToolConnections now. */
  tenantNamespaces: () => Iterable<string>;
  /** Called with the broker's certificate whenever it changed. */
  onBrokerCertificate: (certificate: ServingCertificate) => void;
  intervalMs: number;
  logger: Logger;
}

export class CertificateKeeper {
  private readonly options: CertificateKeeperOptions;
  private timer: NodeJS.Timeout | undefined;
  private brokerCertPem: string | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(options: CertificateKeeperOptions) {
    this.options = options;
  }

  /** One full pass; throws if the broker certificate cannot be had (the manager cannot serve without it). */
  async start(): Promise<ServingCertificate> {
    const broker = await this.options.certificates.ensure(this.options.broker);
    this.brokerCertPem = broker.certPem;
    await this.syncRest().catch((err: unknown) =>
      this.options.logger.warn({ err }, 'could not distribute the CA yet; retrying at the next pass'),
    );
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
    return broker;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Publishes the CA to one namespace now (a ToolConnection just appeared there). */
  publishTo(namespace: string): void {
    void this.options.certificates
      .caBundle()
      .then((ca) => this.options.distribution.publish(namespace, ca))
      .catch((err: unknown) =>
        this.options.logger.warn({ err, namespace }, 'could not publish the broker CA; retrying later'),
      );
  }

  private tick(): void {
    this.running = this.running.then(() => this.pass());
  }

  private async pass(): Promise<void> {
    try {
      const broker = await this.options.certificates.ensure(this.options.broker);
      if (broker.certPem !== this.brokerCertPem) {
        this.brokerCertPem = broker.certPem;
        this.options.onBrokerCertificate(broker);
        this.options.logger.info('broker serving certificate renewed');
      }
      await this.syncRest();
    } catch (err) {
      this.options.logger.warn({ err }, 'could not check the serving certificates; retrying at the next pass');
    }
  }

  private async syncRest(): Promise<void> {
    const { certificates, distribution, logger, webhook, webhookConfigurationName } = this.options;
    if (webhook) await certificates.ensure(webhook);
    const ca = await certificates.caBundle();
    if (webhookConfigurationName) {
      const found = await distribution.updateWebhookConfiguration(webhookConfigurationName, ca);
      if (!found) logger.debug({ name: webhookConfigurationName }, 'no MutatingWebhookConfiguration to update');
    }
    for (const namespace of new Set(this.options.tenantNamespaces())) await distribution.publish(namespace, ca);
  }
}
