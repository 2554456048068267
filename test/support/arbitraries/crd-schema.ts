// Objects for a CRD, generated from its OpenAPI schema in crds/: mostly
// values that fit (enums, patterns — the schema's own and those in simple
// `self.matches(...)` CEL rules —, bounds, formats, required fields), with
// nonsense mixed in at any node (a wrong type, one past a bound, an unknown
// field), so the apiserver sees both what kubectl users send and what they
// might. Cross-field rules are left to hints (`overrides`), because a
// schema walk cannot know them.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse } from 'yaml';
// The CRDs' OpenAPI schema, as the reference generator reads it too.
import type { Schema } from '../../../hack/gen-crd-docs.ts';
import { anyJson, dnsLabel, hostileString } from './json.ts';

/** The served version's schema of the CRD in `file`. */
export function crdSchema(file: string): Schema {
  const crd = parse(readFileSync(file, 'utf8')) as {
    spec: { versions: Array<{ schema: { openAPIV3Schema: Schema } }> };
  };
  return crd.spec.versions[0]!.schema.openAPIV3Schema;
}

export interface SchemaOptions {
  /**
   * Generators that replace the schema walk at a dotted path, such as
   * "spec.schedule" ("[]" for a list's items, "{}" for a map's keys).
   */
  overrides?: Readonly<Record<string, fc.Arbitrary<unknown>>>;
  /** One node in this many is nonsense; 0 for none. */
  nonsenseOneIn?: number;
}

/** The regex of a rule that is only `self.matches(<string>)`, as JavaScript reads it; undefined otherwise. */
export function celPattern(rule: string): RegExp | undefined {
  const match = /^self\.matches\((r?)(['"])(.*)\2\)$/.exec(rule.trim());
  if (!match) return undefined;
  const [, raw, , literal] = match;
  // A CEL string that is not raw takes escapes: "\\." is the regex "\.".
  const source = raw ? literal! : literal!.replaceAll('\\\\', '\\');
  try {
    return new RegExp(source);
  } catch {
    // RE2 syntax JavaScript lacks, such as a leading (?i).
    return undefined;
  }
}

const builtPatterns = new Map<string, fc.Arbitrary<string>>();

/** stringMatching, built once per pattern: building it is costly. */
function matching(pattern: RegExp): fc.Arbitrary<string> {
  let arbitrary = builtPatterns.get(pattern.source);
  if (!arbitrary) {
    arbitrary = fc.stringMatching(pattern);
    builtPatterns.set(pattern.source, arbitrary);
  }
  return arbitrary;
}

function fittingString(schema: Schema): fc.Arbitrary<string> {
  if (schema.enum) return fc.constantFrom(...(schema.enum as string[]));
  if (schema.format === 'date-time') {
    return fc
      .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
      .map((date) => date.toISOString());
  }
  const patterns = [
    ...(schema.pattern ? [new RegExp(schema.pattern)] : []),
    ...(schema['x-kubernetes-validations'] ?? []).map((v) => celPattern(v.rule)).filter((p) => p !== undefined),
  ];
  const { minLength = 0, maxLength } = schema;
  const fits = (value: string) => value.length >= minLength && (maxLength === undefined || value.length <= maxLength);
  if (patterns.length > 0)
    return fc
      .constantFrom(...patterns)
      .chain(matching)
      .filter(fits);
  return fc.oneof(
    { arbitrary: fc.string({ minLength, maxLength: Math.min(maxLength ?? 40, 40) }), weight: 12 },
    ...(maxLength !== undefined ? [{ arbitrary: fc.constant('a'.repeat(maxLength)), weight: 1 }] : []),
  );
}

function fittingInteger(schema: Schema): fc.Arbitrary<number> {
  const min = schema.minimum ?? (schema.format === 'int32' ? -(2 ** 31) : -(2 ** 53) + 1);
  const max = schema.maximum ?? (schema.format === 'int32' ? 2 ** 31 - 1 : 2 ** 53 - 1);
  return fc.oneof(
    { arbitrary: fc.integer({ min, max }), weight: 6 },
    { arbitrary: fc.constantFrom(min, max), weight: 1 },
  );
}

/** Values just past the node's bounds, when it has any: the limits the apiserver must hold. */
function pastBounds(schema: Schema, path: string, options: SchemaOptions): fc.Arbitrary<unknown> | undefined {
  const values: unknown[] = [];
  if (schema.type === 'string' && !schema.enum) {
    if (schema.maxLength !== undefined) values.push('a'.repeat(schema.maxLength + 1));
    if (schema.minLength) values.push('a'.repeat(schema.minLength - 1));
  }
  if (schema.type === 'integer') {
    if (schema.minimum !== undefined) values.push(schema.minimum - 1);
    if (schema.maximum !== undefined) values.push(schema.maximum + 1);
    if (schema.format === 'int32') values.push(2 ** 31);
  }
  if (schema.type === 'object' && schema.maxProperties !== undefined) {
    values.push(Object.fromEntries(Array.from({ length: schema.maxProperties + 1 }, (_, i) => [`key${i}`, 'v'])));
  }
  const arbitraries: fc.Arbitrary<unknown>[] = values.length > 0 ? [fc.constantFrom(...values)] : [];
  if (schema.type === 'array' && schema.items) {
    const items = valueFor(schema.items, `${path}[]`, options);
    if (schema.maxItems !== undefined) {
      arbitraries.push(fc.array(items, { minLength: schema.maxItems + 1, maxLength: schema.maxItems + 1 }));
    }
    // The same item twice, in a list whose items must differ.
    if (schema['x-kubernetes-list-type'] === 'set' || schema['x-kubernetes-list-type'] === 'map') {
      arbitraries.push(items.map((item) => [item, item]));
    }
  }
  return arbitraries.length > 0 ? fc.oneof(...arbitraries) : undefined;
}

/** Something of the wrong type, or absurd, for this node. */
function nonsense(schema: Schema): fc.Arbitrary<unknown> {
  const junk = [anyJson(2), hostileString(), fc.constantFrom(null, 1.5, -1, 1e300, true, [], {})];
  if (schema.type === 'object' && schema.properties) {
    // An unknown field: strict field validation refuses it.
    junk.push(fc.record({ unknownField: anyJson(1) }));
  }
  return fc.oneof(...junk);
}

function fittingObject(schema: Schema, path: string, options: SchemaOptions): fc.Arbitrary<unknown> {
  const properties = Object.entries(schema.properties ?? {});
  const record = fc.record(
    Object.fromEntries(properties.map(([name, child]) => [name, valueFor(child, `${path}.${name}`, options)])),
    { requiredKeys: (schema.required ?? []).filter((name) => schema.properties?.[name]) },
  );
  const extras: fc.Arbitrary<Record<string, unknown>>[] = [];
  if (typeof schema.additionalProperties === 'object') {
    const key = options.overrides?.[`${path}{}`] ?? fc.string({ minLength: 1, maxLength: 20 });
    const value = valueFor(schema.additionalProperties, `${path}.*`, options);
    const maxKeys = Math.min(schema.maxProperties ?? 4, 4);
    extras.push(fc.dictionary(key as fc.Arbitrary<string>, value, { maxKeys }));
  }
  if (schema['x-kubernetes-preserve-unknown-fields']) {
    extras.push(
      fc.oneof(
        { arbitrary: fc.constant({}), weight: 6 },
        { arbitrary: fc.dictionary(fc.string({ maxLength: 12 }), anyJson(2), { maxKeys: 2 }), weight: 1 },
      ),
    );
  }
  if (extras.length === 0) return record;
  return fc.tuple(record, ...extras).map(([known, ...rest]) => Object.assign({}, ...rest, known));
}

function fittingArray(schema: Schema, path: string, options: SchemaOptions): fc.Arbitrary<unknown[]> {
  const items = valueFor(schema.items ?? {}, `${path}[]`, options);
  const { minItems = 0, maxItems } = schema;
  const constraints = { minLength: minItems, maxLength: Math.max(minItems, Math.min(maxItems ?? 4, 4)) };
  const listType = schema['x-kubernetes-list-type'];
  if (listType === 'set') return fc.uniqueArray(items, { ...constraints, comparator: 'SameValueZero' });
  if (listType === 'map') {
    const keys = schema['x-kubernetes-list-map-keys'] ?? [];
    const keyOf = (item: unknown) =>
      JSON.stringify(
        keys.map((key) => (typeof item === 'object' && item !== null ? (item as Record<string, unknown>)[key] : item)),
      );
    return fc.uniqueArray(items, { ...constraints, selector: keyOf });
  }
  return fc.array(items, constraints);
}

function fitting(schema: Schema, path: string, options: SchemaOptions): fc.Arbitrary<unknown> {
  switch (schema.type) {
    case 'string':
      return fittingString(schema);
    case 'integer':
      return fittingInteger(schema);
    case 'boolean':
      return fc.boolean();
    case 'object':
      return fittingObject(schema, path, options);
    case 'array':
      return fittingArray(schema, path, options);
    default:
      return anyJson(2);
  }
}

/** A value for the node at `path` (dotted, from the root) of `schema`. */
export function valueFor(schema: Schema, path: string, options: SchemaOptions = {}): fc.Arbitrary<unknown> {
  const override = options.overrides?.[path];
  const value = override ?? fitting(schema, path, options);
  const oneIn = options.nonsenseOneIn ?? 0;
  if (oneIn === 0 || path === '') return value;
  const beyond = override ? undefined : pastBounds(schema, path, options);
  return fc.oneof(
    { arbitrary: value, weight: oneIn - 2 },
    { arbitrary: beyond ?? value, weight: 1 },
    { arbitrary: nonsense(schema), weight: 1 },
  );
}

/** A whole object of the CRD's kind: apiVersion, kind, a fresh name, and the schema's spec. */
export function crdObject(
  schema: Schema,
  { apiVersion, kind }: { apiVersion: string; kind: string },
  options: SchemaOptions = {},
): fc.Arbitrary<{ apiVersion: string; kind: string; metadata: { name: string }; spec: unknown }> {
  return fc.record({
    apiVersion: fc.constant(apiVersion),
    kind: fc.constant(kind),
    metadata: fc.record({ name: dnsLabel() }),
    spec: valueFor(schema.properties!.spec!, 'spec', options),
  });
}
