// HTTPS load with autocannon (keep-alive, a fixed number of connections),
// with every answer's latency kept at sub-millisecond resolution — autocannon's
// own histogram counts whole milliseconds, too coarse for a 5 ms target — and
// every answer's body checked.
import autocannon, { type Request } from 'autocannon';
import { percentile, round2 } from './support.ts';

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  /** Offer this many requests a second in all, rather than each connection's next as soon as it is answered. */
  rate?: number;
  requests: Request[];
  /** Why an answer (2xx or not) is wrong, or undefined when it is what it should be. */
  check: (body: string) => string | undefined;
  /** Names an answer, to find its latency in `latencyByKey` afterwards. */
  keyOf?: (body: string) => string | undefined;
}

export interface LoadFigures {
  connections: number;
  /** The offered rate, when the load had one. */
  rate?: number;
  seconds: number;
  answered: number;
  perSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Wrong answers by reason. */
  wrong: Record<string, number>;
  /** Latency (ms) of each answer `keyOf` named. */
  latencyByKey: Map<string, number>;
}

export function drive(options: LoadOptions): Promise<LoadFigures> {
  const latencies: number[] = [];
  const wrong: Record<string, number> = {};
  const latencyByKey = new Map<string, number>();
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        pipelining: 1,
        duration: options.seconds,
        requests: options.requests,
        timeout: 10,
        ...(options.rate ? { overallRate: options.rate } : {}),
        verifyBody: (body) => {
          // autocannon reports an answer's latency and then, in the same tick, hands its body here.
          const key = options.keyOf?.(body);
          if (key !== undefined) latencyByKey.set(key, latencies.at(-1)!);
          const reason = options.check(body);
          if (reason !== undefined) wrong[reason] = (wrong[reason] ?? 0) + 1;
          return reason === undefined;
        },
      },
      (error, result) => {
        if (error) return reject(error);
        const seconds = (performance.now() - started) / 1000;
        latencies.sort((a, b) => a - b);
        resolve({
          connections: options.connections,
          ...(options.rate ? { rate: options.rate } : {}),
          seconds: round2(seconds),
          answered: latencies.length,
          perSecond: Math.round(latencies.length / seconds),
          latencyMs: {
            p50: round2(percentile(latencies, 50)),
            p90: round2(percentile(latencies, 90)),
            p99: round2(percentile(latencies, 99)),
            max: round2(latencies.at(-1) ?? 0),
          },
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          wrong,
          latencyByKey,
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  });
}

/** What makes a run invalid: any answer that was not a right 2xx. */
export function failures(figures: Omit<LoadFigures, 'latencyByKey'>): number {
  return figures.non2xx + figures.errors + figures.timeouts + Object.values(figures.wrong).reduce((a, b) => a + b, 0);
}
