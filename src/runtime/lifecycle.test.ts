import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { createLogger } from '../log/logger.ts';
import { Lifecycle } from './lifecycle.ts';

function setUp(shutdownTimeoutMs = 1_000) {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'info',
    component: 'test',
    destination: { write: (line: string) => lines.push(line) },
  });
  const signals = new EventEmitter();
  const forcedExits: number[] = [];
  const lifecycle = new Lifecycle({ shutdownTimeoutMs, logger, signals, forceExit: (code) => forcedExits.push(code) });
  const messages = () => lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
  return { lifecycle, signals, forcedExits, messages };
}

describe('Lifecycle', () => {
  it('runs hooks in reverse registration order and exits 0 when all succeed', async () => {
    const { lifecycle } = setUp();
    const order: string[] = [];
    lifecycle.onShutdown('first', () => {
      order.push('first');
    });
    lifecycle.onShutdown('second', async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push('second');
    });
    lifecycle.onShutdown('third', () => {
      order.push('third');
    });
    await expect(lifecycle.shutdown('test')).resolves.toBe(0);
    expect(order).toEqual(['third', 'second', 'first']);
    await expect(lifecycle.done()).resolves.toBe(0);
  });

  it('aborts its signal before any hook runs', async () => {
    const { lifecycle } = setUp();
    let abortedDuringHook: boolean | undefined;
    lifecycle.onShutdown('observer', () => {
      abortedDuringHook = lifecycle.signal.aborted;
    });
    expect(lifecycle.signal.aborted).toBe(false);
    const done = lifecycle.shutdown('test');
    expect(lifecycle.signal.aborted).toBe(true);
    await done;
    expect(abortedDuringHook).toBe(true);
  });

  it('keeps going after a failing hook and exits 1', async () => {
    const { lifecycle, messages } = setUp();
    const ran: string[] = [];
    lifecycle.onShutdown('survivor', () => {
      ran.push('survivor');
    });
    lifecycle.onShutdown('broken', () => {
      throw new Error('boom');
    });
    await expect(lifecycle.shutdown('test')).resolves.toBe(1);
    expect(ran).toEqual(['survivor']);
    expect(messages()).toContain('shutdown hook failed');
  });

  it('bounds all hooks together by the shutdown timeout, aborting the slow hook', async () => {
    const { lifecycle, messages } = setUp(50);
    let hookDeadline: AbortSignal | undefined;
    lifecycle.onShutdown('never reached', () => undefined);
    lifecycle.onShutdown('hangs', (deadline) => {
      hookDeadline = deadline;
      return new Promise(() => undefined);
    });
    const started = performance.now();
    await expect(lifecycle.shutdown('test')).resolves.toBe(1);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(hookDeadline?.aborted).toBe(true);
    expect(messages()).toEqual(
      expect.arrayContaining(['shutdown hook timed out', 'shutdown hook skipped: shutdown timeout used up']),
    );
  });

  it('shuts down once, however often it is asked', async () => {
    const { lifecycle } = setUp();
    let runs = 0;
    lifecycle.onShutdown('counted', () => {
      runs += 1;
    });
    const [a, b] = await Promise.all([lifecycle.shutdown('one'), lifecycle.shutdown('two')]);
    expect([a, b, runs]).toEqual([0, 0, 1]);
  });

  it('refuses hooks once shutdown has begun', async () => {
    const { lifecycle } = setUp();
    const done = lifecycle.shutdown('test');
    expect(() => lifecycle.onShutdown('late', () => undefined)).toThrow('shutdown has already begun');
    await done;
  });

  it('shuts down on SIGTERM and SIGINT from its signal source', async () => {
    for (const signal of ['SIGTERM', 'SIGINT']) {
      const { lifecycle, signals, messages } = setUp();
      signals.emit(signal);
      await expect(lifecycle.done()).resolves.toBe(0);
      expect(messages()).toContain('shutting down');
      expect(signals.listenerCount(signal)).toBe(0);
    }
  });

  it('forces exit on a second signal during shutdown', async () => {
    const { lifecycle, signals, forcedExits } = setUp();
    let release: () => void = () => undefined;
    lifecycle.onShutdown('slow', () => new Promise<void>((resolve) => (release = resolve)));
    signals.emit('SIGTERM');
    expect(forcedExits).toEqual([]);
    signals.emit('SIGINT');
    expect(forcedExits).toEqual([1]);
    release();
    await lifecycle.done();
  });
});
