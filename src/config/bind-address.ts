import { isIPv4, isIPv6 } from 'node:net';

/** Where a server listens. An empty host means every interface. */
export interface BindAddress {
  host: string;
  port: number;
}

const HOST_AND_PORT = /^(.*):(\d{1,5})$/;
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i;

/**
 * Parses "host:port" as Go servers (and so Kubernetes manifests) spell it:
 * ":8080" (all interfaces), "127.0.0.1:8080", "localhost:8080",
 * "[::1]:8080". Port 0 asks the OS for a free port. Returns undefined when
 * `text` is not such an address.
 */
export function parseBindAddress(text: string): BindAddress | undefined {
  const match = HOST_AND_PORT.exec(text);
  if (!match) return undefined;
  const [, rawHost = '', rawPort = ''] = match;
  const port = Number(rawPort);
  if (port > 65_535) return undefined;
  if (rawHost.startsWith('[') && rawHost.endsWith(']')) {
    const host = rawHost.slice(1, -1);
    return isIPv6(host) ? { host, port } : undefined;
  }
  if (rawHost === '' || isIPv4(rawHost) || HOSTNAME.test(rawHost)) return { host: rawHost, port };
  return undefined;
}

export function formatBindAddress({ host, port }: BindAddress): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
