import { collectDefaultMetrics, Registry } from 'prom-client';

export const METRICS_PREFIX = 'courier_';

/**
 * The registry a process serves on /metrics, preloaded with Node.js process
 * metrics (CPU, memory, event loop lag, GC). A registry per process rather
 * than prom-client's global one keeps tests and components independent.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });
  return registry;
}
