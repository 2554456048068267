// Generators every fuzz suite shares: hostile strings, any JSON, and damage
// done to a well-formed value (a subtree replaced by junk, a key dropped), so
// a property sees both what a client should send and what it might.
import fc from 'fast-check';

/** A string from a long repetition: enough to hit size limits without making fast-check build it char by char. */
export function hugeString(minLength = 10_000, maxLength = 300_000): fc.Arbitrary<string> {
  return fc
    .tuple(fc.string({ minLength: 1, maxLength: 4, unit: 'binary' }), fc.integer({ min: minLength, max: maxLength }))
    .map(([unit, length]) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length));
}

// Built once, as DNS_LABEL below: a string arbitrary over all of Unicode
// builds a map of every code point the first time it is asked whether it
// could have made a value, which costs seconds when repeated per case.
const HOSTILE_STRING = fc.oneof(
  { arbitrary: fc.string({ maxLength: 40 }), weight: 20 },
  { arbitrary: fc.string({ maxLength: 40, unit: 'binary' }), weight: 15 },
  { arbitrary: fc.constantFrom('', ' ', '\0', '\n', '\u2028', '\uFEFF', '../..', '%00', '${x}', 'null'), weight: 10 },
  { arbitrary: hugeString(), weight: 1 },
);

/**
 * Printable ASCII, any Unicode (lone surrogates included), control
 * characters, and rarely a huge one: rarely, because a pod has dozens of
 * strings and one huge string per case is enough to find size bugs.
 */
export function hostileString(): fc.Arbitrary<string> {
  return HOSTILE_STRING;
}

/** Any JSON value, nested a few levels. */
export function anyJson(maxDepth = 3): fc.Arbitrary<unknown> {
  return fc.jsonValue({ maxDepth });
}

// Built once: stringMatching compiles its regex into arbitraries.
const DNS_LABEL = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,14}[a-z0-9])?$/);

/** Lower-case RFC 1123 labels, as Kubernetes names are. */
export function dnsLabel(): fc.Arbitrary<string> {
  return DNS_LABEL;
}

type Edit = { at: number; kind: 'replace' | 'delete'; value: unknown };

/** Every path into `value`'s objects and arrays, the root excluded. */
function pathsOf(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (typeof value !== 'object' || value === null) return [];
  const entries: Array<[string | number, unknown]> = Array.isArray(value)
    ? value.map((item, i) => [i, item])
    : Object.entries(value);
  return entries.flatMap(([key, child]) => [[...prefix, key], ...pathsOf(child, [...prefix, key])]);
}

function applyEdit(value: unknown, { at, kind, value: junk }: Edit): unknown {
  const paths = pathsOf(value);
  if (paths.length === 0) return value;
  const path = paths[at % paths.length]!;
  const key = path.pop()!;
  let parent = value as Record<string | number, unknown>;
  for (const step of path) parent = parent[step] as Record<string | number, unknown>;
  if (kind === 'replace') parent[key] = junk;
  else if (Array.isArray(parent)) parent.splice(key as number, 1);
  else delete parent[key];
  return value;
}

/** `base`'s values with up to `maxEdits` subtrees replaced by random JSON or removed. */
export function damaged<T>(base: fc.Arbitrary<T>, maxEdits = 2): fc.Arbitrary<unknown> {
  const edit = fc.record({
    at: fc.nat(),
    kind: fc.constantFrom<Edit['kind']>('replace', 'delete'),
    value: anyJson(2),
  });
  return fc
    .tuple(base, fc.array(edit, { minLength: 1, maxLength: maxEdits }))
    .map(([value, edits]) => edits.reduce(applyEdit, structuredClone(value) as unknown));
}
