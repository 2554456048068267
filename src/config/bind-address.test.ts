import { describe, expect, it } from '@jest/globals';
import { formatBindAddress, parseBindAddress } from './bind-address.ts';

describe('parseBindAddress', () => {
  it.each([
    [':8080', { host: '', port: 8080 }],
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['localhost:9443', { host: 'localhost', port: 9443 }],
    ['[::1]:8081', { host: '::1', port: 8081 }],
    ['[::]:8081', { host: '::', port: 8081 }],
  ])('parses %s', (text, address) => {
    expect(parseBindAddress(text)).toEqual(address);
  });

  it.each(['abc', '8080', ':', ':65536', '::1:8080', '[nothost]:80', 'bad_host:80', 'host:port', ':80:80'])(
    'rejects %j',
    (text) => {
      expect(parseBindAddress(text)).toBeUndefined();
    },
  );
});

describe('formatBindAddress', () => {
  it('brackets IPv6 hosts and keeps the empty all-interfaces host', () => {
    expect(formatBindAddress({ host: '::1', port: 80 })).toBe('[::1]:80');
    expect(formatBindAddress({ host: '', port: 8080 })).toBe(':8080');
    expect(formatBindAddress({ host: '10.0.0.1', port: 1 })).toBe('10.0.0.1:1');
  });
});
