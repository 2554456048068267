// Helpers shared by the agent's tests.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createLogger, type Logger } from '../../log/logger.ts';

/** Where the tests write credentials: memory, like the pod's emptyDir with medium Memory. */
const TMPFS = '/dev/shm';

/**
 * A fresh directory on tmpfs. Throws (failing the test, not skipping it)
 * when /dev/shm is not a tmpfs mount on this machine.
 */
export async function tmpfsDir(prefix = 'courier-agent-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n');
  if (!mounts.some((line) => line.split(' ')[1] === TMPFS && line.split(' ')[2] === 'tmpfs')) {
    throw new Error(`${TMPFS} is not a tmpfs mount here; the agent tests need one`);
  }
  const dir = await mkdtemp(`${TMPFS}/${prefix}`);
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A random value long enough to be registered as a secret, recognisable in a failure message. */
export function secretValue(label: string): string {
  return `${label}-${randomBytes(12).toString('hex')}`;
}

export interface CapturedLogger {
  logger: Logger;
  lines: string[];
  records: () => Record<string, unknown>[];
}

export function captureLogger(): CapturedLogger {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    component: 'agent',
    destination: { write: (line: string) => lines.push(line) },
  });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
