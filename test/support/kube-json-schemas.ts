// JSON schemas for kubeconform, made from a live kube-apiserver's OpenAPI v2
// document (GET /openapi/v2), which also carries the schemas of every CRD the
// apiserver serves. kubeconform cannot download schemas here (no internet),
// and these are exactly the apiserver's own, for its version.
//
// One file per group, version and kind at
//   <dir>/<group>/<kind>_<version>.json   (the core group under "v1/", as
//                                          kubeconform names it)
// so the location template is SCHEMA_LOCATION below. Each file is
// standalone: the kind's definition plus every definition it reaches, with
// references kept (the API is recursive in places, e.g. JSONSchemaProps).
//
// Strict, as kubeconform's -strict expects of its schemas: an object schema
// with properties accepts no other property, unless the API preserves
// unknown fields there. The API's two string-or-number types (IntOrString and
// Quantity) accept both, as the apiserver does.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

type Schema = Record<string, unknown>;

interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

interface OpenApiV2 {
  definitions: Record<string, Schema>;
}

/** kubeconform's -schema-location for a directory written by writeKubeJsonSchemas. */
export const schemaLocation = (dir: string) =>
  path.join(dir, '{{ .Group }}', '{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json');

const DEFINITION_PREFIX = '#/definitions/';
const NUMBER_OR_STRING = [{ type: 'string' }, { type: 'number' }];
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

/** Writes one schema file per kind; returns how many. */
export async function writeKubeJsonSchemas(openApi: OpenApiV2, dir: string): Promise<number> {
  const definitions = Object.fromEntries(
    Object.entries(openApi.definitions).map(([name, schema]) => [name, strict(name, schema)]),
  );
  let written = 0;
  for (const [name, schema] of Object.entries(openApi.definitions)) {
    for (const gvk of groupVersionKinds(schema)) {
      // kubeconform's .Group is the apiVersion's part before "/": "v1" for the core group.
      const file = path.join(dir, gvk.group || gvk.version, `${gvk.kind.toLowerCase()}_${gvk.version}.json`);
      const standalone = { ...definitions[name], definitions: closure(name, definitions) };
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, JSON.stringify(standalone));
      written++;
    }
  }
  return written;
}

function groupVersionKinds(schema: Schema): GroupVersionKind[] {
  return (schema['x-kubernetes-group-version-kind'] as GroupVersionKind[] | undefined) ?? [];
}

/** Every definition reachable from `root` through $ref, root included. */
function closure(root: string, definitions: Record<string, Schema>): Record<string, Schema> {
  const reached: Record<string, Schema> = {};
  const pending = [root];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (reached[name]) continue;
    const schema = definitions[name];
    if (!schema) throw new Error(`OpenAPI document refers to a missing definition ${name}`);
    reached[name] = schema;
    pending.push(...references(schema));
  }
  return reached;
}

function references(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(references);
  if (!node || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === '$ref' && typeof value === 'string' ? [value.slice(DEFINITION_PREFIX.length)] : references(value),
  );
}

/** A copy of one definition, strict and with both forms of the string-or-number types. */
function strict(name: string, schema: Schema): Schema {
  if (name === QUANTITY) return { description: schema.description, oneOf: NUMBER_OR_STRING };
  return strictNode(schema);
}

/** Walks schema keywords only, so a property named like a keyword ("format", "properties") is not taken for one. */
function strictNode(node: Schema): Schema {
  const schema: Schema = { ...node };
  if (schema.properties) schema.properties = mapValues(schema.properties as Record<string, Schema>, strictNode);
  if (schema.patternProperties)
    schema.patternProperties = mapValues(schema.patternProperties as Record<string, Schema>, strictNode);
  if (schema.items && typeof schema.items === 'object')
    schema.items = Array.isArray(schema.items) ? schema.items.map(strictNode) : strictNode(schema.items as Schema);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object')
    schema.additionalProperties = strictNode(schema.additionalProperties as Schema);
  for (const key of ['allOf', 'anyOf', 'oneOf'])
    if (Array.isArray(schema[key])) schema[key] = (schema[key] as Schema[]).map(strictNode);
  if (schema.not) schema.not = strictNode(schema.not as Schema);

  if (schema.format === 'int-or-string' || schema['x-kubernetes-int-or-string'] === true) {
    delete schema.type;
    delete schema.format;
    return { ...schema, oneOf: [{ type: 'string' }, { type: 'integer' }] };
  }
  if (schema.properties && !('additionalProperties' in schema) && !schema['x-kubernetes-preserve-unknown-fields'])
    schema.additionalProperties = false;
  return schema;
}

function mapValues<T, U>(record: Record<string, T>, f: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, f(value)]));
}
