import { readFile } from 'node:fs/promises';
import { describe, expect, it } from '@jest/globals';
import { API_FILES, generateApiTypes } from '../../../hack/gen-api.ts';

describe('API types', () => {
  it.each(API_FILES)('$out is generated from $crd and up to date (npm run gen)', async ({ crd, out }) => {
    const committed = await readFile(out, 'utf8');
    expect(committed).toBe(await generateApiTypes(crd));
  });
});
