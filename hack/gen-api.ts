// Generates the TypeScript types of Courier's API from the CRDs in crds/,
// which are the single source of truth. `npm run gen` writes them;
// src/api/v1alpha1/generated.test.ts fails when they are out of date.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { compile, type JSONSchema } from 'json-schema-to-typescript';
import { parse } from 'yaml';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const API_FILES = [
  { crd: 'crds/courier.dev_toolconnections.yaml', out: 'src/api/v1alpha1/toolconnection.generated.ts' },
  { crd: 'crds/courier.dev_scanschedules.yaml', out: 'src/api/v1alpha1/scanschedule.generated.ts' },
];

// Names for nested object types, keyed by the JSON path below the kind's root.
const TYPE_NAMES: Record<string, string> = {
  spec: 'Spec',
  status: 'Status',
  'spec.aws': 'AwsConnectionSpec',
  'spec.generic': 'GenericConnectionSpec',
  'spec.credentialsSecretRef': 'CredentialsSecretRef',
  'spec.access': 'AccessSpec',
  'spec.rotation': 'RotationSpec',
  'spec.validation': 'ValidationSpec',
  'status.accessRequests[]': 'AccessRequest',
  'spec.connections[]': 'ScanConnection',
  'spec.jobTemplate': 'JobTemplate',
  'status.active[]': 'ActiveRun',
};

// Fields whose schema is a Kubernetes type client-node already models.
const KUBERNETES_TYPES: Record<string, string> = {
  metadata: 'V1ObjectMeta',
  'status.conditions[]': 'V1Condition',
  'spec.jobTemplate.spec': 'V1JobSpec',
};

type Schema = Record<string, unknown>;

function toJsonSchema(kind: string, node: Schema, at: string): JSONSchema {
  const kubeType = KUBERNETES_TYPES[at];
  if (kubeType) return { tsType: kubeType };
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-') || key === 'default') continue;
    if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, Schema>).map(([name, child]) => [
          name,
          toJsonSchema(kind, child, at ? `${at}.${name}` : name),
        ]),
      );
    } else if (key === 'items') {
      out.items = toJsonSchema(kind, value as Schema, `${at}[]`);
    } else if (key === 'additionalProperties' && typeof value === 'object') {
      out.additionalProperties = toJsonSchema(kind, value as Schema, `${at}{}`);
    } else {
      out[key] = value;
    }
  }
  if (node.type === 'object' && !('additionalProperties' in node)) {
    // Structural schemas prune unknown fields, unless told to keep them.
    out.additionalProperties = node['x-kubernetes-preserve-unknown-fields'] === true;
  }
  const name = TYPE_NAMES[at];
  if (name) out.title = name === 'Spec' || name === 'Status' ? `${kind}${name}` : name;
  return out as JSONSchema;
}

export async function generateApiTypes(crdFile: string): Promise<string> {
  const crd = parse(await readFile(path.join(repoRoot, crdFile), 'utf8'));
  const kind: string = crd.spec.names.kind;
  const version = crd.spec.versions.find((v: { storage: boolean }) => v.storage);
  const root = toJsonSchema(kind, version.schema.openAPIV3Schema, '');
  root.title = kind;
  root.required = ['apiVersion', 'kind', 'metadata', ...((root.required as string[]) ?? [])];
  const ts = await compile(root, kind, {
    bannerComment: '',
    additionalProperties: false,
    strictIndexSignatures: true,
    maxItems: -1,
    format: true,
    style: { singleQuote: true, printWidth: 100 },
  });
  const imports = [...new Set(Object.values(KUBERNETES_TYPES))].filter((t) => ts.includes(t)).sort();
  return [
    `// Generated from ${crdFile} by hack/gen-api.ts (npm run gen). Do not edit.`,
    `import type { ${imports.join(', ')} } from '@kubernetes/client-node';`,
    '',
    ts,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const file of API_FILES) {
    await writeFile(path.join(repoRoot, file.out), await generateApiTypes(file.crd));
    process.stdout.write(`wrote ${file.out}\n`);
  }
}
