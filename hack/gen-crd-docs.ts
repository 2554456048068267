// Generates docs/reference/crds.md, the reference of Courier's API, from the
// CRDs in crds/ (the single source of truth): per kind, its names, printer
// columns, every field with its type, requirement, default and limits, and
// every CEL rule with its message. `node hack/gen-crd-docs.ts` writes it;
// src/api/crd-docs.test.ts fails when it is out of date.
//
// The output goes through Prettier with the repository's own settings, so
// `npm run lint` accepts the generated file as it is.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { parse } from 'yaml';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CRD_DIR = 'crds';
export const CRD_DOCS = 'docs/reference/crds.md';

export type Schema = {
  type?: string;
  format?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: CelRule[];
};

export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
}

interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  priority?: number;
  description?: string;
}

export interface Crd {
  file: string;
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: Record<string, unknown>;
      additionalPrinterColumns?: PrinterColumn[];
      schema: { openAPIV3Schema: Schema };
    }>;
  };
}

/** One row of a field table: a field at a JSON path below the kind's root. */
interface Field {
  path: string;
  schema: Schema;
  required: boolean;
}

/** The CRDs in crds/, sorted by kind so the page does not depend on file order. */
export async function readCrds(): Promise<Crd[]> {
  const files = (await readdir(path.join(repoRoot, CRD_DIR))).filter((f) => f.endsWith('.yaml')).sort();
  const crds = await Promise.all(
    files.map(async (file) => ({
      file: `${CRD_DIR}/${file}`,
      ...(parse(await readFile(path.join(repoRoot, CRD_DIR, file), 'utf8')) as Omit<Crd, 'file'>),
    })),
  );
  return crds.sort((a, b) => a.spec.names.kind.localeCompare(b.spec.names.kind));
}

/**
 * Every field below `schema`, depth first in the order the CRD declares them.
 * Array items add `[]` to the path; a map's values are described on the map.
 */
export function fieldsOf(schema: Schema, prefix: string): Field[] {
  const fields: Field[] = [];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const at = prefix ? `${prefix}.${name}` : name;
    fields.push({ path: at, schema: child, required: (schema.required ?? []).includes(name) });
    fields.push(...fieldsOf(child, at));
    if (child.items?.properties) fields.push(...fieldsOf(child.items, `${at}[]`));
  }
  return fields;
}

/** Every CEL rule below (and at) `schema`, with the path of the field it is declared on. */
export function rulesOf(schema: Schema, at: string): Array<{ path: string; rule: CelRule }> {
  const own = (schema['x-kubernetes-validations'] ?? []).map((rule) => ({ path: at, rule }));
  const children = Object.entries(schema.properties ?? {}).flatMap(([name, child]) =>
    rulesOf(child, at ? `${at}.${name}` : name),
  );
  const items = schema.items ? rulesOf(schema.items, `${at}[]`) : [];
  const values =
    typeof schema.additionalProperties === 'object' ? rulesOf(schema.additionalProperties, `${at}[*]`) : [];
  return [...own, ...children, ...items, ...values];
}

// --- rendering ---------------------------------------------------------------

/** A code span, with a fence longer than any backtick run inside it; `|` escaped for tables. */
const code = (text: string) => {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = longest > 0 ? ' ' : '';
  return `${fence}${pad}${text.replaceAll('|', '\\|')}${pad}${fence}`;
};
/** Prose from the CRDs, as text: `*`, `<name>` or `[x]` would otherwise turn into markup. */
const prose = (text: string) => text.replace(/[\\`*<[\]]/g, (c) => `\\${c}`);
/** Table cells are one line, and `|` would end the cell. */
const cell = (text: string) => text.replace(/\s+/g, ' ').trim().replaceAll('|', '\\|');
const literal = (value: unknown) => code(typeof value === 'string' ? value : JSON.stringify(value));

function typeOf(schema: Schema): string {
  const base = schema.format ? `${schema.type} (${schema.format})` : (schema.type ?? 'any');
  if (schema.type === 'array' && schema.items) return `[]${typeOf(schema.items)}`;
  if (schema.type === 'object' && typeof schema.additionalProperties === 'object')
    return `map[string]${typeOf(schema.additionalProperties)}`;
  return base;
}

/** The limits a value must keep, as short phrases. */
function scalarLimits(schema: Schema): string[] {
  const limits: string[] = [];
  if (schema.enum) limits.push(`one of ${schema.enum.map(literal).join(', ')}`);
  if (schema.pattern) limits.push(`pattern ${code(schema.pattern)}`);
  limits.push(...range('length', schema.minLength, schema.maxLength));
  limits.push(...range('value', schema.minimum, schema.maximum));
  return limits;
}

function range(what: string, min: number | undefined, max: number | undefined): string[] {
  if (min !== undefined && max !== undefined) return [min === max ? `${what} ${min}` : `${what} ${min} to ${max}`];
  if (min !== undefined) return [`${what} ≥ ${min}`];
  if (max !== undefined) return [`${what} ≤ ${max}`];
  return [];
}

function limitsOf(field: Field, rulePaths: ReadonlySet<string>): string {
  const { schema } = field;
  const limits = scalarLimits(schema);
  limits.push(...range('items', schema.minItems, schema.maxItems));
  if (schema.maxProperties !== undefined) limits.push(`at most ${schema.maxProperties} entries`);
  if (schema['x-kubernetes-list-type'] === 'set') limits.push('unique items');
  const keys = schema['x-kubernetes-list-map-keys'];
  if (schema['x-kubernetes-list-type'] === 'map' && keys)
    limits.push(`one item per ${keys.map((k) => code(k)).join(', ')}`);
  if (schema.items && !schema.items.properties) {
    const each = scalarLimits(schema.items);
    if (each.length > 0) limits.push(`each item: ${each.join(', ')}`);
  }
  if (typeof schema.additionalProperties === 'object') {
    const each = scalarLimits(schema.additionalProperties);
    if (each.length > 0) limits.push(`each value: ${each.join(', ')}`);
  }
  if (schema['x-kubernetes-preserve-unknown-fields'])
    limits.push('fields not listed here are kept as written, not checked by this schema');
  const ruled = [field.path, `${field.path}[]`, `${field.path}[*]`].filter((p) => rulePaths.has(p));
  if (ruled.length > 0) limits.push('CEL rules below');
  return limits.join('; ');
}

function fieldTable(fields: Field[], rulePaths: ReadonlySet<string>): string[] {
  return [
    '| Field | Type | Required | Default | Limits | Description |',
    '| ----- | ---- | -------- | ------- | ------ | ----------- |',
    ...fields
      .map((field) =>
        [
          code(field.path),
          cell(typeOf(field.schema)),
          field.required ? 'yes' : '',
          field.schema.default === undefined ? '' : literal(field.schema.default),
          cell(limitsOf(field, rulePaths)),
          cell(prose(field.schema.description ?? '')),
        ].join(' | '),
      )
      .map((row) => `| ${row} |`),
  ];
}

function ruleList(rules: Array<{ path: string; rule: CelRule }>): string[] {
  const lines: string[] = [];
  for (const { path: at, rule } of rules) {
    const where = rule.fieldPath ? `${code(at)} (reported at ${code(rule.fieldPath)})` : code(at);
    const transition = /\boldSelf\b/.test(rule.rule) ? ' Checked on update, against the old value.' : '';
    const reason = rule.reason ? ` Reason: ${code(rule.reason)}.` : '';
    const message = rule.message
      ? `“${prose(rule.message)}”`
      : `a message computed by ${code(rule.messageExpression ?? '')}`;
    lines.push(`- On ${where}: ${message}.${reason}${transition}`, '');
    lines.push('  ```', ...rule.rule.split('\n').map((line) => `  ${line}`), '  ```', '');
  }
  return lines;
}

function printerColumns(columns: PrinterColumn[]): string[] {
  return [
    '| Column | Type | JSONPath | Shown |',
    '| ------ | ---- | -------- | ----- |',
    ...columns.map(
      (c) =>
        `| ${cell(c.name)} | ${c.type} | ${code(c.jsonPath)} | ${(c.priority ?? 0) === 0 ? '`kubectl get`' : '`kubectl get -o wide`'} |`,
    ),
  ];
}

function kindSection(crd: Crd): string[] {
  const { names, group, scope } = crd.spec;
  const version = crd.spec.versions.find((v) => v.storage)!;
  const root = version.schema.openAPIV3Schema;
  const rules = rulesOf(root, '');
  const rulePaths = new Set(rules.map((r) => r.path));
  const top = (name: string) => root.properties?.[name];
  const lines = [
    `## ${names.kind}`,
    '',
    cell(prose(root.description ?? '')),
    '',
    '| | |',
    '| - | - |',
    `| API version | ${code(`${group}/${version.name}`)} |`,
    `| Scope | ${scope} |`,
    `| Resource | ${code(`${names.plural}.${group}`)} (singular ${code(names.singular)}) |`,
    `| Short names | ${(names.shortNames ?? []).map((n) => code(n)).join(', ') || 'none'} |`,
    `| Categories | ${(names.categories ?? []).map((n) => code(n)).join(', ') || 'none'} |`,
    `| Subresources | ${
      Object.keys(version.subresources ?? {})
        .sort()
        .map((n) => code(n))
        .join(', ') || 'none'
    } |`,
    `| Defined in | [${crd.file}](../../${crd.file}) |`,
    '',
  ];
  if (version.additionalPrinterColumns?.length) {
    lines.push(`### ${names.kind}: printer columns`, '', ...printerColumns(version.additionalPrinterColumns), '');
  }
  for (const part of ['spec', 'status']) {
    const schema = top(part);
    if (!schema) continue;
    const fields = fieldsOf(schema, part);
    const required = (root.required ?? []).includes(part) ? ` (\`${part}\` is required)` : '';
    lines.push(`### ${names.kind}: ${part}${required}`, '');
    if (part === 'status') {
      lines.push('Written by Courier through the `status` subresource; never set it yourself.', '');
      const conditions = schema.properties?.conditions;
      if (conditions?.description) {
        lines.push(
          `The CRD describes \`status.conditions\` as “${cell(prose(conditions.description))}” Each condition has the standard fields below. The types and reasons Courier writes, and what to do about each, are in [operations.md](../operations.md#conditions-and-their-reasons).`,
          '',
        );
      }
    }
    lines.push(...fieldTable(fields, rulePaths), '');
  }
  if (rules.length > 0) {
    lines.push(
      `### ${names.kind}: validation rules (CEL)`,
      '',
      'The apiserver refuses a create or update that breaks one of these, with the message shown.',
      '',
      ...ruleList(rules),
    );
  }
  return lines;
}

export async function generateCrdDocs(): Promise<string> {
  const crds = await readCrds();
  const lines = [
    '<!-- Generated from crds/*.yaml by hack/gen-crd-docs.ts (node hack/gen-crd-docs.ts). Do not edit. -->',
    '',
    '# API reference: CustomResourceDefinitions',
    '',
    `Courier's API, from the CRDs in [crds/](../../crds) — the single source of truth. Kinds: ${crds
      .map((c) => `[${c.spec.names.kind}](#${c.spec.names.kind.toLowerCase()})`)
      .join(', ')}.`,
    '',
    'Field paths are below the object\'s root; `[]` stands for each item of a list. "Limits" are the',
    "schema's own checks (OpenAPI); cross-field checks are CEL rules, listed after each kind's fields.",
    '',
    ...crds.flatMap(kindSection),
  ];
  const options = (await prettier.resolveConfig(path.join(repoRoot, CRD_DOCS))) ?? {};
  return prettier.format(lines.join('\n'), { ...options, parser: 'markdown' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeFile(path.join(repoRoot, CRD_DOCS), await generateCrdDocs());
  process.stdout.write(`wrote ${CRD_DOCS}\n`);
}
