import { readFile } from 'node:fs/promises';
import { describe, expect, it } from '@jest/globals';
import { CRD_DOCS, generateCrdDocs, readCrds, type Schema } from '../../hack/gen-crd-docs.ts';

/** Field paths below `schema`, walked here independently of the generator. */
function paths(schema: Schema, prefix: string): string[] {
  return Object.entries(schema.properties ?? {}).flatMap(([name, child]) => {
    const at = prefix ? `${prefix}.${name}` : name;
    return [at, ...paths(child, at), ...(child.items ? paths(child.items, `${at}[]`) : [])];
  });
}

function celRules(schema: Schema): Array<{ rule: string; message?: string }> {
  const children = [
    ...Object.values(schema.properties ?? {}),
    ...(schema.items ? [schema.items] : []),
    ...(typeof schema.additionalProperties === 'object' ? [schema.additionalProperties] : []),
  ];
  return [...(schema['x-kubernetes-validations'] ?? []), ...children.flatMap(celRules)];
}

describe('CRD reference', () => {
  it(`${CRD_DOCS} is generated from crds/ and up to date (node hack/gen-crd-docs.ts)`, async () => {
    const committed = await readFile(CRD_DOCS, 'utf8');
    expect(committed).toBe(await generateCrdDocs());
  });

  it('documents every field, printer column and CEL rule of every CRD', async () => {
    const page = await readFile(CRD_DOCS, 'utf8');
    // Messages are escaped as Markdown text (`*` → `\*`); read them back as text.
    const text = page.replace(/\\([\\`*<[\]])/g, '$1');
    const crds = await readCrds();
    expect(crds.map((c) => c.spec.names.kind)).toEqual(['ScanSchedule', 'ToolConnection']);
    for (const crd of crds) {
      const version = crd.spec.versions.find((v) => v.storage)!;
      const root = version.schema.openAPIV3Schema;
      const fields = ['spec', 'status'].flatMap((part) => paths(root.properties![part]!, part));
      expect(fields.length).toBeGreaterThan(20);
      for (const field of fields) {
        expect(page).toContain(`| \`${field}\``);
      }
      for (const column of version.additionalPrinterColumns ?? []) {
        expect(page).toContain(`\`${column.jsonPath}\``);
      }
      const rules = celRules(root);
      expect(rules.length).toBeGreaterThan(5);
      for (const { rule, message } of rules) {
        expect(page).toContain(rule);
        expect(text).toContain(`“${message}”`);
      }
    }
  });
});
