// Checks a broker's 200 answer before anything is written from it. The broker
// is trusted to hand out the right credentials, but not to be bug-free: a
// value with a line break would inject lines into the AWS INI files, and a
// missing field would leave a scan with a half-written directory.
import type { CredentialResponse } from '../api/v1alpha1/delivery.ts';

const KINDS: readonly string[] = ['aws/assumeRole', 'aws/accessKey', 'generic'] satisfies CredentialResponse['kind'][];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A non-empty string on one line, safe to put into an INI file. */
function isIniValue(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '' && !/[\r\n\0]/.test(value);
}

/**
 * Returns what is wrong with `parsed` as the answer for `connection`, or
 * undefined when it is a usable CredentialResponse. Messages name fields,
 * never their values: the values are secrets.
 */
export function validateCredentialResponse(parsed: unknown, connection: string): string | undefined {
  if (!isObject(parsed)) return 'not a JSON object';
  if (parsed.connection !== connection) return `it is for another connection than ${JSON.stringify(connection)}`;
  if (typeof parsed.kind !== 'string' || !KINDS.includes(parsed.kind)) return 'kind is missing or unknown';
  if (parsed.expiration !== undefined) {
    if (typeof parsed.expiration !== 'string' || Number.isNaN(Date.parse(parsed.expiration))) {
      return 'expiration is not an RFC 3339 time';
    }
  }
  return parsed.kind === 'generic' ? genericProblem(parsed.generic) : awsProblem(parsed.aws);
}

function awsProblem(aws: unknown): string | undefined {
  if (!isObject(aws)) return 'aws credentials are missing';
  for (const field of ['accessKeyId', 'secretAccessKey', 'region'] as const) {
    if (!isIniValue(aws[field])) return `aws.${field} is missing or not a single line`;
  }
  if (aws.sessionToken !== undefined && !isIniValue(aws.sessionToken)) return 'aws.sessionToken is not a single line';
  return undefined;
}

function genericProblem(generic: unknown): string | undefined {
  if (!isObject(generic)) return 'generic credentials are missing';
  if (typeof generic.purpose !== 'string') return 'generic.purpose is missing';
  if (generic.host !== undefined && typeof generic.host !== 'string') return 'generic.host is not a string';
  if (generic.port !== undefined) {
    const port = generic.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      return 'generic.port is not a port number';
    }
  }
  if (!isObject(generic.fields)) return 'generic.fields is missing';
  for (const [name, value] of Object.entries(generic.fields)) {
    // The name is not secret, and the admin needs it to fix the connection.
    if (typeof value !== 'string') return `generic.fields.${JSON.stringify(name)} is not a string`;
  }
  return undefined;
}
