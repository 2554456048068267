// HTTPS load, every answer's body checked and its latency kept at
// sub-millisecond resolution: closed (a fixed number of keep-alive
// connections, each sending its next request once answered) with autocannon,
// whose own histogram counts whole milliseconds, too coarse for a 5 ms target;
// and open (a steady rate) with undici.
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon, { type Request } from 'autocannon';
import { Pool } from 'undici';
import { percentile, round2 } from './support.ts';

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
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

/** p50, p90, p99 and max of ascending `latencies`, in ms. */
function latencySummary(latencies: readonly number[]): LoadFigures['latencyMs'] {
  return {
    p50: round2(percentile(latencies, 50)),
    p90: round2(percentile(latencies, 90)),
    p99: round2(percentile(latencies, 99)),
    max: round2(latencies.at(-1) ?? 0),
  };
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
          seconds: round2(seconds),
          answered: latencies.length,
          perSecond: Math.round(latencies.length / seconds),
          latencyMs: latencySummary(latencies),
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

export interface OpenLoadOptions {
  url: string;
  /** Requests a second, sent on a steady clock whether or not earlier ones were answered. */
  rate: number;
  seconds: number;
  /** Keep-alive connections to spread them over. */
  connections: number;
  /** The next request's headers and body. */
  next: () => { headers: Record<string, string>; body: string };
  check: (body: string) => string | undefined;
  keyOf?: (body: string) => string | undefined;
}

/**
 * An open load: requests leave at `rate` a second on a steady clock, and each
 * one's latency runs from when it was due, so a slow answer delays nothing and
 * hides nothing (autocannon's rate only caps each connection per second, which
 * sends in bursts).
 */
export async function driveOpen(options: OpenLoadOptions): Promise<LoadFigures> {
  const target = new URL(options.url);
  const pool = new Pool(target.origin, {
    connections: options.connections,
    pipelining: 1,
    connect: { rejectUnauthorized: false },
  });
  const latencies: number[] = [];
  const wrong: Record<string, number> = {};
  const latencyByKey = new Map<string, number>();
  let non2xx = 0;
  let errors = 0;
  const inFlight = new Set<Promise<void>>();
  const send = (due: number) => {
    const { headers, body } = options.next();
    const done = pool
      .request({ path: target.pathname, method: 'POST', headers, body })
      .then(async (answer) => {
        const text = await answer.body.text();
        const ms = performance.now() - due;
        latencies.push(ms);
        if (answer.statusCode < 200 || answer.statusCode > 299) non2xx++;
        const key = options.keyOf?.(text);
        if (key !== undefined) latencyByKey.set(key, ms);
        const reason = options.check(text);
        if (reason !== undefined) wrong[reason] = (wrong[reason] ?? 0) + 1;
      })
      .catch(() => void errors++)
      .finally(() => inFlight.delete(done));
    inFlight.add(done);
  };
  const started = performance.now();
  const total = Math.round(options.rate * options.seconds);
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * options.rate) + 1);
    for (; sent < due; sent++) send(started + (sent / options.rate) * 1000);
    await sleep(1);
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    connections: options.connections,
    rate: options.rate,
    seconds: round2(seconds),
    answered: latencies.length,
    perSecond: Math.round(latencies.length / seconds),
    latencyMs: latencySummary(latencies),
    non2xx,
    errors,
    timeouts: 0,
    wrong,
    latencyByKey,
  };
}
