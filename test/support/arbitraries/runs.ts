// How many cases each property runs, and how to replay a failure. CI runs
// the defaults; COURIER_FUZZ_RUNS raises the main properties' count for a long
// local run, and the costly ones (a request over TLS, an object reconciled
// on the apiserver) scale with it. COURIER_FUZZ_SEED and COURIER_FUZZ_PATH
// replay the counterexample fast-check printed (see docs/fuzzing.md).
import type { Parameters } from 'fast-check';

/** What the main properties run in CI. */
export const DEFAULT_RUNS = 10_000;

function positiveInteger(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number, got ${raw}`);
  return value;
}

function integer(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be a whole number, got ${raw}`);
  return value;
}

/** The main properties' case count: COURIER_FUZZ_RUNS, or the CI default. */
export function fuzzRuns(): number {
  return positiveInteger('COURIER_FUZZ_RUNS') ?? DEFAULT_RUNS;
}

/**
 * A costlier property's case count: `ciRuns` in CI, scaled by the same
 * factor as the main properties when COURIER_FUZZ_RUNS is set.
 */
export function scaledRuns(ciRuns: number): number {
  return Math.max(1, Math.round((ciRuns * fuzzRuns()) / DEFAULT_RUNS));
}

/**
 * fast-check parameters for `runs` cases, with the replay seed and path when
 * set. Replaying a path only makes sense for the one property that printed
 * it: run that test alone (jest -t "<name>").
 */
export function fuzzParameters<T>(runs: number): Parameters<T> {
  const seed = integer('COURIER_FUZZ_SEED');
  const path = process.env.COURIER_FUZZ_PATH;
  return {
    numRuns: runs,
    ...(seed !== undefined ? { seed } : {}),
    ...(path ? { path, endOnFailure: true } : {}),
  };
}

/**
 * A Jest timeout for a property of `runs` cases that each take about
 * `msPerRun`: generous, so a slow machine does not fail a green run, yet
 * finite, so a hang still shows.
 */
export function fuzzTimeout(runs: number, msPerRun: number): number {
  return Math.max(60_000, Math.ceil(runs * msPerRun * 5));
}
