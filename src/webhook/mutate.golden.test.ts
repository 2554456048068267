// Golden files: each testdata/<case>/input.json is a pod as the apiserver
// sends it, expected.json the pod after the webhook's patch. Run with
// UPDATE_GOLDEN=1 to rewrite the expected files after a deliberate change,
// then read the diff.
import { readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import prettier from 'prettier';
import { mutate, type Mutation } from './mutate.ts';
import { applyPatch, CONNECTIONS, NAMESPACE, SETTINGS } from './testing/fixtures.ts';

const TESTDATA = path.join(import.meta.dirname, 'testdata');
const CASES = readdirSync(TESTDATA);
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function mutated(pod: V1Pod): Mutation {
  const result = mutate({ pod, namespace: NAMESPACE, connections: CONNECTIONS, settings: SETTINGS });
  if ('denied' in result) throw new Error(`denied: ${result.denied}`);
  return result;
}

async function readJson(file: string): Promise<V1Pod> {
  return JSON.parse(await readFile(file, 'utf8')) as V1Pod;
}

describe('mutate, on golden files', () => {
  it('has the shapes it must cover', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(10);
  });

  it.each(CASES)('%s', async (name) => {
    const input = await readJson(path.join(TESTDATA, name, 'input.json'));
    const expectedFile = path.join(TESTDATA, name, 'expected.json');
    const { patch } = mutated(input);
    const output = applyPatch(input, patch);
    if (UPDATE) {
      const options = await prettier.resolveConfig(expectedFile);
      await writeFile(expectedFile, await prettier.format(JSON.stringify(output), { ...options, parser: 'json' }));
    }
    expect(output).toEqual(await readJson(expectedFile));
    // The apiserver may call the webhook again on its own output (reinvocationPolicy IfNeeded).
    expect(mutated(output).patch).toEqual([]);
  });
});
