/**
 * Whether `actual` holds everything in `expected`: the same primitives, the
 * same lists of primitives, objects with at least `expected`'s fields, and
 * lists of objects with `expected`'s items in order, possibly among others.
 *
 * That is how the webhook recognises what it added itself in a pod it sees
 * again: by then the apiserver has filled in defaults around it
 * (terminationMessagePath, a probe's timeoutSeconds) and its ServiceAccount
 * admission plugin has mounted the API token into the agent too.
 */
export function contains(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return false;
    if (expected.every(isPrimitive)) {
      return actual.length === expected.length && expected.every((item, i) => actual[i] === item);
    }
    let next = 0;
    for (const item of actual) if (next < expected.length && contains(item, expected[next])) next++;
    return next === expected.length;
  }
  if (isObject(expected)) {
    return isObject(actual) && Object.entries(expected).every(([key, value]) => contains(actual[key], value));
  }
  return actual === expected;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPrimitive(value: unknown): boolean {
  return typeof value !== 'object' || value === null;
}
