// Secret redaction for log records. Two independent layers, because neither
// is enough on its own:
//   - key-based: a property whose *name* says it holds a secret is replaced
//     wholesale, whatever its value looks like;
//   - value-based: values the process knows to be secret (tokens it read,
//     keys it minted) are registered once and scrubbed from every string,
//     wherever they end up (messages, error stacks, URLs, nested fields).
// Redaction always builds a copy; the caller's objects are never modified.

export const REDACTED = '[REDACTED]';

/**
 * Shorter values are not registered: scrubbing them would shred ordinary
 * text ("true", "admin", port numbers) while protecting almost nothing.
 */
export const MIN_REGISTERED_SECRET_LENGTH = 6;

/**
 * The key rule. A key is normalised (lower-cased, separators dropped, so
 * `secret_access_key`, `X-Api-Key` and `clientKeyData` all compare alike) and
 * is sensitive when it *ends with* a secret-bearing noun, optionally followed
 * by an encoding qualifier (`data`, `pem`, `value`).
 *
 * Matching the end, not any substring, is deliberate: the noun a key ends
 * with names what the value is. So these are redacted:
 *   password, dbPassword, passwd, passphrase, secret, clientSecret,
 *   secretAccessKey, secretKey, token, sessionToken, accessToken, jwt,
 *   authorization, Proxy-Authorization, privateKey, clientKey,
 *   client-key-data, signingKey, apiKey, x-api-key, credentials, cookie,
 *   set-cookie
 * while these stay readable, because they describe a secret without being one
 * and operators need them:
 *   accessKeyId / accessKey (AWS and S3-style key IDs are identifiers, wanted
 *   in audit logs), secretName / secretRef (Kubernetes object references),
 *   tokenFile / passwordFile (paths), tokenExpiry, tokenType, privateKeyId.
 * A bare `key` is not sensitive: it is far more often a map key or a field
 * path than key material.
 */
const SENSITIVE_KEY =
  /(password|passwd|passphrase|secret|secretaccesskey|secretkey|token|jwt|authorization|privatekey|clientkey|signingkey|encryptionkey|apikey|credentials?|cookies?)(data|pem|value)?$/;

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key.toLowerCase().replace(/[^a-z0-9]/g, ''));
}

const registeredSecrets = new Set<string>();
/** Built lazily from `registeredSecrets`; reset whenever a secret is added. */
let registeredSecretsPattern: RegExp | undefined;

/**
 * Marks `value` as secret for the rest of the process: every string logged
 * afterwards has it replaced by `[REDACTED]`. Surrounding whitespace is
 * ignored, since secrets read from files usually carry a trailing newline.
 */
export function registerSecret(value: string): void {
  const secret = value.trim();
  if (secret.length < MIN_REGISTERED_SECRET_LENGTH || registeredSecrets.has(secret)) return;
  registeredSecrets.add(secret);
  registeredSecretsPattern = undefined;
}

function buildRegisteredSecretsPattern(): RegExp {
  // Longest first, so a secret that contains another is removed whole rather
  // than leaving its remainder behind.
  const alternatives = [...registeredSecrets]
    .sort((a, b) => b.length - a.length)
    .map((secret) => secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(alternatives.join('|'), 'g');
}

/** Scrubs every registered secret from `text`. */
export function redactString(text: string): string {
  if (registeredSecrets.size === 0) return text;
  registeredSecretsPattern ??= buildRegisteredSecretsPattern();
  return text.replace(registeredSecretsPattern, REDACTED);
}

/** The loggable shape of an Error. */
export interface SerializedError {
  type: string;
  message: string;
  stack?: string;
  code?: unknown;
  cause?: unknown;
}

/**
 * Returns a redacted deep copy of `value`: sensitive keys replaced, registered
 * secrets scrubbed from all strings (keys included), Errors turned into
 * {@link SerializedError}s, and reference cycles cut with "[Circular]".
 */
export function redact(value: unknown): unknown {
  return redactValue(value, new Set());
}

export function redactError(error: Error): SerializedError {
  return serializeError(error, new Set([error]));
}

function redactValue(value: unknown, ancestors: Set<object>): unknown {
  if (typeof value === 'string') return redactString(value);
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.has(value)) return '[Circular]';
  ancestors.add(value);
  try {
    if (value instanceof Error) return serializeError(value, ancestors);
    if (Array.isArray(value)) return value.map((item) => redactValue(item, ancestors));
    // Dates, URLs, Buffers and API model classes are logged the way
    // JSON.stringify would show them, so redact that representation.
    if (hasToJSON(value)) return redactValue(value.toJSON(), ancestors);
    return redactObject(value, ancestors);
  } finally {
    ancestors.delete(value);
  }
}

function redactObject(value: object, ancestors: Set<object>): Record<string, unknown> {
  const entries = Object.entries(value).map(([key, item]): [string, unknown] => [
    redactString(key),
    // null and undefined carry no secret, and seeing them tells the reader a
    // credential was missing rather than hidden.
    isSensitiveKey(key) && item !== null && item !== undefined ? REDACTED : redactValue(item, ancestors),
  ]);
  // fromEntries defines properties, so a "__proto__" key stays plain data.
  return Object.fromEntries(entries);
}

function serializeError(error: Error, ancestors: Set<object>): SerializedError {
  const summary = apiErrorSummary(error);
  const serialized: SerializedError = {
    type: error.constructor?.name || error.name,
    message: redactString(summary ?? error.message),
  };
  if (error.stack !== undefined) {
    // The stack starts with the message; keep only its frames after a summary.
    const frames = error.stack.split('\n').filter((line) => /^\s+at /.test(line));
    serialized.stack = redactString(summary ? [summary, ...frames].join('\n') : error.stack);
  }
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) serialized.code = redactValue(code, ancestors);
  if (error.cause !== undefined) serialized.cause = redactValue(error.cause, ancestors);
  return serialized;
}

/**
 * client-node's ApiException puts the whole response body and headers in its
 * message. A log needs the status code and the apiserver's own message only.
 */
function apiErrorSummary(error: Error): string | undefined {
  const { code, body } = error as { code?: unknown; body?: unknown };
  if (typeof code !== 'number' || body === undefined) return undefined;
  let message: unknown;
  try {
    message = (typeof body === 'string' ? JSON.parse(body) : body)?.message;
  } catch {
    message = undefined;
  }
  return typeof message === 'string' ? `HTTP ${code}: ${message}` : `HTTP ${code}`;
}

function hasToJSON(value: object): value is { toJSON(): unknown } {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function';
}
