// Searches everywhere a secret could end up for the secret values a suite
// used: raw etcd, component logs, API objects, peers' stored state. A hit is
// a leak. Values are looked for as they are and base64-encoded.
import { readFile } from 'node:fs/promises';

export interface Finding {
  /** Where the text came from, e.g. "etcd /registry/secrets/ns/name". */
  where: string;
  text: string | Buffer;
}

export type LeakSource = () => Promise<Finding[]>;

export interface Leak {
  where: string;
  /** Which of the secrets leaked (its index, never the value itself). */
  secretIndex: number;
  encoding: 'raw' | 'base64' | 'base64url';
}

/** Every key and value in etcd, through its JSON gateway. */
export function etcdSource(etcdUrl: string): LeakSource {
  return async () => {
    const all = Buffer.from([0]).toString('base64');
    const response = await fetch(`${etcdUrl}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: all, range_end: all }),
    });
    if (!response.ok) throw new Error(`etcd range: HTTP ${response.status}`);
    const { kvs = [] } = (await response.json()) as { kvs?: Array<{ key: string; value?: string }> };
    if (kvs.length === 0) throw new Error('etcd returned no keys: the scan would prove nothing');
    return kvs.map((kv) => ({
      where: `etcd ${Buffer.from(kv.key, 'base64').toString()}`,
      text: Buffer.from(kv.value ?? '', 'base64'),
    }));
  };
}

export function fileSource(...paths: string[]): LeakSource {
  return async () => Promise.all(paths.map(async (path) => ({ where: `file ${path}`, text: await readFile(path) })));
}

export function valuesSource(where: string, values: unknown[]): LeakSource {
  return async () =>
    values.map((value, i) => ({
      where: `${where}[${i}]`,
      text: typeof value === 'string' ? value : JSON.stringify(value),
    }));
}

export async function findLeaks(secrets: string[], sources: LeakSource[]): Promise<Leak[]> {
  const needles = secrets.flatMap((secret, secretIndex) => {
    if (secret.length < 8) throw new Error(`secret ${secretIndex} is too short to search for without false hits`);
    return (['raw', 'base64', 'base64url'] as const).map((encoding) => ({
      secretIndex,
      encoding,
      bytes: encoding === 'raw' ? Buffer.from(secret) : Buffer.from(Buffer.from(secret).toString(encoding)),
    }));
  });
  const leaks: Leak[] = [];
  for (const source of sources) {
    for (const finding of await source()) {
      const haystack = Buffer.isBuffer(finding.text) ? finding.text : Buffer.from(finding.text);
      for (const { secretIndex, encoding, bytes } of needles) {
        if (haystack.includes(bytes)) leaks.push({ where: finding.where, secretIndex, encoding });
      }
    }
  }
  return leaks;
}
