// Durations are written the way Kubernetes tooling writes them (Go's
// time.ParseDuration): "30s", "2m", "1m30s", "1.5h", "500ms"; and, as the
// CRDs allow for long periods, days: "90d".

const MS_PER_UNIT: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/**
 * Parses a duration into whole milliseconds, or returns undefined when `text`
 * is not one. A bare number is rejected rather than guessed at: "30" could
 * mean seconds or milliseconds.
 */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) {
    total += Number(amount) * (MS_PER_UNIT[unit as string] as number);
  }
  return Math.round(total);
}
