// The process shell shared by Courier's long-running cluster components:
// logging, metrics and health probes, and graceful shutdown.
import type { Registry } from 'prom-client';
import { formatBindAddress } from '../../config/bind-address.ts';
import type { ComponentConfig } from '../../config/commands.ts';
import { createLogger, type Logger } from '../../log/logger.ts';
import { ExitCode } from '../../runtime/exit-codes.ts';
import { Lifecycle } from '../../runtime/lifecycle.ts';
import { createMetricsRegistry } from '../../server/metrics.ts';
import { ProbeServer } from '../../server/probes.ts';

export interface ComponentContext {
  logger: Logger;
  lifecycle: Lifecycle;
  probes: ProbeServer;
  registry: Registry;
}

/**
 * Runs a component until it is told to stop, and resolves with the exit code.
 * `start` does the component's own setup once probes and metrics are served;
 * it registers readiness checks and shutdown hooks as it goes.
 */
export async function runComponent(
  component: string,
  config: ComponentConfig,
  start: (context: ComponentContext) => Promise<void>,
): Promise<number> {
  const logger = createLogger({ level: config.logLevel, component });
  const lifecycle = new Lifecycle({
    shutdownTimeoutMs: config.shutdownTimeout,
    logger,
    signals: process,
    forceExit: (code) => process.exit(code),
  });
  const registry = createMetricsRegistry();
  const probes = new ProbeServer({
    metricsAddress: config.metricsBindAddress,
    healthProbeAddress: config.healthProbeBindAddress,
    registry,
    logger,
    shutdownSignal: lifecycle.signal,
  });

  try {
    logger.info({ config }, `starting ${component}`);
    // Registered first so it runs last: readiness keeps answering 503 while
    // everything else drains.
    lifecycle.onShutdown('probe server', () => probes.stop());
    const bound = await probes.start();
    logger.info(
      { metricsAddress: formatBindAddress(bound.metrics), healthProbeAddress: formatBindAddress(bound.healthProbe) },
      'serving metrics and health probes',
    );
    await start({ logger, lifecycle, probes, registry });
    logger.info(`${component} started`);
  } catch (err) {
    // A signal that arrives mid-startup wins; startup errors after it are moot.
    if (lifecycle.signal.aborted) return lifecycle.done();
    logger.error({ err }, `${component} failed to start`);
    await lifecycle.shutdown('startup failed');
    return ExitCode.failure;
  }
  return lifecycle.done();
}
