import { describe, expect, it } from '@jest/globals';
import type { z } from 'zod';
import { binaryQuantity, httpsUrl, imageReference, tokenExpiration } from './settings.ts';

function message(schema: z.ZodType, raw: string): string | undefined {
  const result = schema.safeParse(raw);
  return result.success ? undefined : result.error.issues[0]?.message;
}

describe('imageReference', () => {
  it('takes references with a tag or digest and refuses blanks', () => {
    expect(imageReference().parse('ghcr.io/courier/courier:0.1.0')).toBe('ghcr.io/courier/courier:0.1.0');
    expect(imageReference().parse('courier@sha256:' + 'a'.repeat(64))).toBe('courier@sha256:' + 'a'.repeat(64));
    expect(message(imageReference(), 'courier 0.1')).toBe(
      'expected an image reference such as "ghcr.io/courier/courier:0.1.0", got "courier 0.1"',
    );
    expect(message(imageReference(), '')).toMatch(/^expected an image reference/);
  });
});

describe('httpsUrl', () => {
  it('takes https only: the agent sends its token there', () => {
    expect(httpsUrl().parse('https://courier-broker.courier-system.svc:8443')).toBe(
      'https://courier-broker.courier-system.svc:8443',
    );
    expect(message(httpsUrl(), 'http://courier-broker')).toBe(
      'expected an https URL such as "https://courier-broker.courier-system.svc", got "http://courier-broker"',
    );
    expect(message(httpsUrl(), 'courier-broker:8443')).toMatch(/^expected an https URL/);
  });
});

describe('tokenExpiration', () => {
  it('gives seconds, at least the ten minutes Kubernetes requires', () => {
    expect(tokenExpiration().parse('10m')).toBe(600);
    expect(tokenExpiration().parse('1h30m')).toBe(5400);
    for (const raw of ['9m59s', '600', '10m0.5s', '-10m']) {
      expect(message(tokenExpiration(), raw)).toBe(
        `expected a duration of at least 10m in whole seconds, such as "10m" or "1h", got ${JSON.stringify(raw)}`,
      );
    }
  });
});

describe('binaryQuantity', () => {
  it('writes sizes as the apiserver writes them back', () => {
    expect(binaryQuantity().parse('1Mi')).toBe('1Mi');
    expect(binaryQuantity().parse('1024Ki')).toBe('1Mi');
    expect(binaryQuantity().parse('1536Ki')).toBe('1536Ki');
    expect(binaryQuantity().parse('2048Mi')).toBe('2Gi');
    expect(binaryQuantity().parse('1048576Mi')).toBe('1Ti');
  });

  it('refuses other forms', () => {
    for (const raw of ['1M', '1.5Mi', '0Mi', '01Mi', '1mi', 'Mi', '1048576']) {
      expect(message(binaryQuantity(), raw)).toBe(
        `expected a size in Ki, Mi or Gi such as "1Mi" or "512Ki", got ${JSON.stringify(raw)}`,
      );
    }
  });
});
