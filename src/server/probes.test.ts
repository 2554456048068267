import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { formatBindAddress, type BindAddress } from '../config/bind-address.ts';
import { createLogger } from '../log/logger.ts';
import { createMetricsRegistry } from './metrics.ts';
import { ProbeServer, type ProbeServerOptions } from './probes.ts';

const LOCAL_EPHEMERAL: BindAddress = { host: '127.0.0.1', port: 0 };
const running: ProbeServer[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.stop()));
});

function probeServer(options: Partial<ProbeServerOptions> = {}) {
  const lines: string[] = [];
  const server = new ProbeServer({
    metricsAddress: LOCAL_EPHEMERAL,
    healthProbeAddress: LOCAL_EPHEMERAL,
    registry: createMetricsRegistry(),
    logger: createLogger({
      level: 'info',
      component: 'test',
      destination: { write: (line: string) => lines.push(line) },
    }),
    ...options,
  });
  running.push(server);
  const logs = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { server, logs };
}

async function get(address: BindAddress, path: string): Promise<{ status: number; body: string; type: string | null }> {
  const response = await fetch(`http://${formatBindAddress(address)}${path}`);
  return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
}

describe('ProbeServer', () => {
  it('serves liveness, readiness and metrics on one listener when the addresses match', async () => {
    const { server } = probeServer();
    const bound = await server.start();
    expect(bound.metrics).toEqual(bound.healthProbe);
    expect(bound.healthProbe.port).toBeGreaterThan(0);

    expect(await get(bound.healthProbe, '/healthz')).toMatchObject({ status: 200, body: 'ok' });
    expect(await get(bound.healthProbe, '/readyz')).toMatchObject({ status: 200, body: 'ok' });
    const metrics = await get(bound.metrics, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metrics.body).toMatch(/^courier_process_cpu_user_seconds_total /m);
    expect((await get(bound.healthProbe, '/nope')).status).toBe(404);
  });

  it('keeps metrics and probes apart on two listeners', async () => {
    const { server } = probeServer({
      metricsAddress: { host: '127.0.0.1', port: 0 },
      healthProbeAddress: { host: 'localhost', port: 0 },
    });
    const bound = await server.start();
    expect(bound.metrics.port).not.toBe(bound.healthProbe.port);
    expect((await get(bound.metrics, '/metrics')).status).toBe(200);
    expect((await get(bound.metrics, '/healthz')).status).toBe(404);
    expect((await get(bound.healthProbe, '/healthz')).status).toBe(200);
    expect((await get(bound.healthProbe, '/metrics')).status).toBe(404);
  });

  it('reports failing readiness checks by name with 503, and every check with ?verbose', async () => {
    const { server, logs } = probeServer();
    let cacheSynced = false;
    server.addReadinessCheck('apiserver', () => undefined);
    server.addReadinessCheck('cache', async () => {
      if (!cacheSynced) throw new Error('informer cache not synced');
    });
    const bound = await server.start();

    expect(await get(bound.healthProbe, '/readyz')).toMatchObject({
      status: 503,
      body: '[-]cache failed: reason withheld\nreadyz check failed\n',
    });
    expect(await get(bound.healthProbe, '/readyz?verbose')).toMatchObject({
      status: 503,
      body: '[+]apiserver ok\n[-]cache failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n',
    });
    expect(logs()).toContainEqual(
      expect.objectContaining({
        msg: 'readiness check failing',
        check: 'cache',
        err: expect.objectContaining({ message: 'informer cache not synced' }),
      }),
    );

    cacheSynced = true;
    expect(await get(bound.healthProbe, '/readyz')).toMatchObject({ status: 200, body: 'ok' });
    expect(await get(bound.healthProbe, '/readyz?verbose')).toMatchObject({
      status: 200,
      body: '[+]apiserver ok\n[+]cache ok\n[+]shutdown ok\nreadyz check passed\n',
    });
    expect(
      logs()
        .filter((record) => record.check === 'cache')
        .map((record) => record.msg),
    ).toEqual(['readiness check failing', 'readiness check passing again']);
  });

  it('fails a check that takes longer than the check timeout', async () => {
    const { server } = probeServer({ checkTimeoutMs: 20 });
    let aborted = false;
    server.addReadinessCheck(
      'slow',
      (signal) => new Promise<void>(() => signal.addEventListener('abort', () => (aborted = true))),
    );
    const bound = await server.start();
    expect((await get(bound.healthProbe, '/readyz')).status).toBe(503);
    expect(aborted).toBe(true);
  });

  it('turns unready once shutdown begins while staying live', async () => {
    const shutdown = new AbortController();
    const { server } = probeServer({ shutdownSignal: shutdown.signal });
    const bound = await server.start();
    shutdown.abort();
    expect(await get(bound.healthProbe, '/readyz')).toMatchObject({
      status: 503,
      body: '[-]shutdown failed: reason withheld\nreadyz check failed\n',
    });
    expect((await get(bound.healthProbe, '/healthz')).status).toBe(200);
  });

  it('rejects a duplicate check name', () => {
    const { server } = probeServer();
    server.addReadinessCheck('apiserver', () => undefined);
    expect(() => server.addReadinessCheck('apiserver', () => undefined)).toThrow('already registered');
    expect(() => server.addReadinessCheck('shutdown', () => undefined)).toThrow('already registered');
  });

  it('stops listening on stop()', async () => {
    const { server } = probeServer();
    const bound = await server.start();
    await get(bound.healthProbe, '/healthz');
    await server.stop();
    await expect(fetch(`http://${formatBindAddress(bound.healthProbe)}/healthz`)).rejects.toThrow();
  });

  it('fails to start naming the address and purpose when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = { host: '127.0.0.1', port: (blocker.address() as { port: number }).port };
    try {
      const { server } = probeServer({ metricsAddress: LOCAL_EPHEMERAL, healthProbeAddress: taken });
      await expect(server.start()).rejects.toThrow(`cannot serve health probes on 127.0.0.1:${taken.port}`);
    } finally {
      blocker.close();
    }
  });
});
