import { describe, expect, it } from '@jest/globals';
import { isSensitiveKey, redact, REDACTED, redactError, redactString, registerSecret } from './redact.ts';

describe('isSensitiveKey', () => {
  it.each([
    'password',
    'dbPassword',
    'passwd',
    'passphrase',
    'secret',
    'clientSecret',
    'secretAccessKey',
    'SECRET_ACCESS_KEY',
    'sessionToken',
    'token',
    'access_token',
    'Authorization',
    'proxy-authorization',
    'privateKey',
    'clientKey',
    'client-key-data',
    'apiKey',
    'X-Api-Key',
    'credentials',
    'cookie',
    'Set-Cookie',
  ])('treats %s as sensitive', (key) => {
    expect(isSensitiveKey(key)).toBe(true);
  });

  it.each([
    'accessKeyId',
    'AccessKeyId',
    'accessKey',
    'secretName',
    'secretRef',
    'tokenFile',
    'tokenExpiry',
    'key',
    'name',
  ])('leaves %s readable', (key) => {
    expect(isSensitiveKey(key)).toBe(false);
  });
});

describe('redact', () => {
  it('replaces sensitive keys at any depth, in objects and arrays', () => {
    const record = {
      user: 'alice',
      aws: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI', sessionToken: 'FwoGZXIvYXdz' },
      headers: [{ Authorization: 'Bearer abc.def' }, { accept: 'json' }],
      nested: { deeper: { list: [{ password: { anything: 'at all' } }] } },
    };
    expect(redact(record)).toEqual({
      user: 'alice',
      aws: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: REDACTED, sessionToken: REDACTED },
      headers: [{ Authorization: REDACTED }, { accept: 'json' }],
      nested: { deeper: { list: [{ password: REDACTED }] } },
    });
  });

  it('keeps null and undefined under sensitive keys, to show a credential was missing', () => {
    expect(redact({ token: null, password: undefined })).toEqual({ token: null, password: undefined });
  });

  it('scrubs registered secrets inside longer strings, keys included', () => {
    registerSecret('s3cr3t-value-1');
    expect(redact({ url: 'https://user:s3cr3t-value-1@example.com', 's3cr3t-value-1': 1 })).toEqual({
      url: `https://user:${REDACTED}@example.com`,
      [REDACTED]: 1,
    });
  });

  it('serializes Errors with message, stack and code redacted', () => {
    registerSecret('hunter2-password');
    const error = Object.assign(new TypeError('login with hunter2-password failed'), { code: 'EAUTH' });
    const result = redact({ err: error }) as { err: Record<string, unknown> };
    expect(result.err).toEqual({
      type: 'TypeError',
      message: `login with ${REDACTED} failed`,
      stack: expect.stringContaining(`TypeError: login with ${REDACTED} failed`),
      code: 'EAUTH',
    });
    expect(JSON.stringify(result)).not.toContain('hunter2-password');
  });

  it('follows error causes', () => {
    const error = new Error('outer', { cause: new RangeError('inner') });
    expect(redact(error)).toMatchObject({
      type: 'Error',
      message: 'outer',
      cause: { type: 'RangeError', message: 'inner' },
    });
  });

  it('never modifies the caller’s objects', () => {
    registerSecret('caller-owned-secret');
    const inner = { token: 'caller-owned-secret', note: 'has caller-owned-secret inside' };
    const record = { inner, list: [inner] };
    const snapshot = structuredClone(record);
    redact(record);
    expect(record).toEqual(snapshot);
    expect(record.inner).toBe(inner);
  });

  it('cuts reference cycles', () => {
    const node: Record<string, unknown> = { name: 'loop' };
    node.self = node;
    expect(redact(node)).toEqual({ name: 'loop', self: '[Circular]' });
  });

  it('redacts what toJSON exposes (URLs, Dates)', () => {
    registerSecret('url-embedded-secret');
    const when = new Date(0);
    expect(redact({ at: when, url: new URL('https://h/?sig=url-embedded-secret') })).toEqual({
      at: '1970-01-01T00:00:00.000Z',
      url: `https://h/?sig=${REDACTED}`,
    });
  });

  it('treats a __proto__ key as data', () => {
    const record = JSON.parse('{"__proto__": {"polluted": true}}') as object;
    const copy = redact(record) as object;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__']);
  });
});

describe('registerSecret', () => {
  it('ignores values shorter than 6 characters', () => {
    registerSecret('abc12');
    expect(redactString('value abc12 stays')).toBe('value abc12 stays');
  });

  it('ignores surrounding whitespace, as in secrets read from files', () => {
    registerSecret('file-token-value\n');
    expect(redactString('got file-token-value.')).toBe(`got ${REDACTED}.`);
  });

  it('removes a secret that contains another one whole', () => {
    registerSecret('prefix-');
    registerSecret('prefix-and-more');
    expect(redactString('x prefix-and-more y')).toBe(`x ${REDACTED} y`);
  });

  it('matches regex metacharacters literally', () => {
    registerSecret('a.b*c(d)');
    expect(redactString('aXbbc(d) a.b*c(d)')).toBe(`aXbbc(d) ${REDACTED}`);
  });
});

describe('Kubernetes API errors', () => {
  it('keep the status code and the apiserver message, not the response body and headers', async () => {
    const { ApiException } = await import('@kubernetes/client-node');
    const body = JSON.stringify({ kind: 'Status', code: 403, message: 'secrets "x" is forbidden' });
    const error = new ApiException(403, 'Unknown API Status Code!', body, {
      'audit-id': 'abc',
      'set-cookie': 'session=1',
    });
    const serialized = redactError(error);
    expect(serialized.message).toBe('HTTP 403: secrets "x" is forbidden');
    expect(serialized.stack?.split('\n')[0]).toBe('HTTP 403: secrets "x" is forbidden');
    expect(JSON.stringify(serialized)).not.toContain('audit-id');
    expect(JSON.stringify(serialized)).not.toContain('session=1');
  });
});
