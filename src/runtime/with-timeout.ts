export class TimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/**
 * Runs `task` but stops waiting for it after `timeoutMs`, rejecting with a
 * TimeoutError that says `what` timed out. The task receives a signal that is
 * aborted at that moment, so it can cancel its own work (an HTTP request, a
 * loop) instead of carrying on unobserved.
 */
export async function withTimeout<T>(
  what: string,
  timeoutMs: number,
  task: (signal: AbortSignal) => Promise<T> | T,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TimeoutError(`${what} timed out after ${timeoutMs}ms`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    // new Promise turns a synchronous throw of `task` into a rejection.
    return await Promise.race([new Promise<T>((resolve) => resolve(task(controller.signal))), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
