// Schemas for single option values. Every option arrives from commander as a
// string (or undefined when unset and without default), so each schema takes
// that raw string and produces the typed value, or an issue whose message
// completes "invalid --flag (ENV): …".
import { existsSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { delimiter } from 'node:path';
import { z } from 'zod';
import { parseBindAddress, type BindAddress } from './bind-address.ts';
import { parseDuration } from './duration.ts';

const REQUIRED = 'required but not set';

/** `parse` returns undefined for text that is not a valid `expected`. */
export function parsedValue<T>(expected: string, parse: (raw: string) => T | undefined): z.ZodType<T> {
  return z.string({ error: REQUIRED }).transform((raw, ctx) => {
    const value = parse(raw);
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${expected}, got ${JSON.stringify(raw)}` });
      return z.NEVER;
    }
    return value;
  });
}

/**
 * Makes an option optional. An empty value counts as unset, because that is
 * what `KUBECONFIG=` or an empty ConfigMap entry means to its author.
 */
export function optional<T>(schema: z.ZodType<T>): z.ZodType<T | undefined> {
  return z.preprocess((raw) => (raw === '' ? undefined : raw), schema.optional());
}

export function oneOf<const T extends readonly [string, ...string[]]>(choices: T): z.ZodType<T[number]> {
  return parsedValue(`one of ${choices.join(', ')}`, (raw) => (choices.includes(raw) ? (raw as T[number]) : undefined));
}

export function bindAddress(): z.ZodType<BindAddress> {
  return parsedValue('host:port such as ":8080" or "127.0.0.1:8080"', parseBindAddress);
}

/** A positive duration, in milliseconds. */
export function duration(): z.ZodType<number> {
  return parsedValue('a positive duration such as "30s" or "2m"', (raw) => {
    const ms = parseDuration(raw);
    return ms !== undefined && ms > 0 ? ms : undefined;
  });
}

export function switchValue(): z.ZodType<boolean> {
  return parsedValue('"true" or "false"', (raw) => ({ true: true, false: false })[raw]);
}

export function nonEmpty(what: string): z.ZodType<string> {
  return parsedValue(what, (raw) => (raw.trim() === '' ? undefined : raw));
}

export function httpUrl(): z.ZodType<string> {
  return parsedValue('an http or https URL such as "https://courier-broker.courier-system.svc"', (raw) =>
    URL.canParse(raw) && ['http:', 'https:'].includes(new URL(raw).protocol) ? raw : undefined,
  );
}

// RFC 1123, as Kubernetes validates object names.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function isDnsLabel(text: string): boolean {
  return text.length <= 63 && DNS_LABEL.test(text);
}

function isDnsSubdomain(text: string): boolean {
  return text.length <= 253 && DNS_SUBDOMAIN.test(text);
}

/** A namespace name. */
export function dnsLabel(): z.ZodType<string> {
  return parsedValue('a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)', (raw) =>
    isDnsLabel(raw) ? raw : undefined,
  );
}

/** An object name such as a Lease's. */
export function dnsSubdomain(): z.ZodType<string> {
  return parsedValue('a DNS-1123 subdomain (lowercase letters, digits, "-" and ".", at most 253 characters)', (raw) =>
    isDnsSubdomain(raw) ? raw : undefined,
  );
}

/** Comma-separated object names, e.g. "github,aws-prod"; at least one. */
export function nameList(): z.ZodType<string[]> {
  return parsedValue('a comma-separated list of names such as "github,aws-prod"', (raw) => {
    const names = raw.split(',').map((name) => name.trim());
    return names.every(isDnsSubdomain) ? [...new Set(names)] : undefined;
  });
}

/** Comma-separated DNS names or IP addresses, e.g. "courier.example.com,127.0.0.1". */
export function hostList(): z.ZodType<{ dnsNames: string[]; ipAddresses: string[] }> {
  return parsedValue('a comma-separated list of DNS names or IP addresses such as "localhost,127.0.0.1"', (raw) => {
    const hosts = [...new Set(raw.split(',').map((host) => host.trim()))];
    const ipAddresses = hosts.filter((host) => isIP(host) !== 0);
    const dnsNames = hosts.filter((host) => isIP(host) === 0);
    return dnsNames.every(isDnsSubdomain) ? { dnsNames, ipAddresses } : undefined;
  });
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** The path of a file that must exist now. */
export function existingFile(): z.ZodType<string> {
  return z.string({ error: REQUIRED }).refine(isFile, {
    error: (issue) => `no such file: ${JSON.stringify(issue.input)}`,
  });
}

/**
 * One or more existing files joined by the platform's path-list separator,
 * as in KUBECONFIG ("a.yaml:b.yaml").
 */
export function existingFileList(): z.ZodType<string[]> {
  return z.string({ error: REQUIRED }).transform((raw, ctx) => {
    const paths = raw.split(delimiter).filter((path) => path !== '');
    if (paths.length === 0)
      ctx.addIssue({ code: 'custom', message: `expected file paths, got ${JSON.stringify(raw)}` });
    for (const path of paths.filter((path) => !isFile(path))) {
      ctx.addIssue({ code: 'custom', message: `no such file: ${JSON.stringify(path)}` });
    }
    return paths;
  });
}
