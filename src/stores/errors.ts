// Typed store errors, so callers decide by kind and never by parsing
// messages. Messages name the store and the secret, never its contents.

export type StoreErrorKind = 'NotFound' | 'Conflict' | 'Unavailable' | 'Denied' | 'Invalid';

export class StoreError extends Error {
  readonly kind: StoreErrorKind;
  readonly store: string;
  /** Only Unavailable errors are worth retrying. */
  readonly retryable: boolean;

  constructor(kind: StoreErrorKind, store: string, message: string, options?: { cause?: unknown }) {
    super(`store ${store}: ${message}`, options);
    this.name = `Store${kind}Error`;
    this.kind = kind;
    this.store = store;
    this.retryable = kind === 'Unavailable';
  }
}

export const notFound = (store: string, what: string) => new StoreError('NotFound', store, `${what} not found`);
export const conflict = (store: string, what: string) =>
  new StoreError('Conflict', store, `${what} changed concurrently; read it again and retry`);
export const unavailable = (store: string, what: string, cause?: unknown) =>
  new StoreError('Unavailable', store, `${what}: store unavailable (${describe(cause)})`, { cause });
export const denied = (store: string, what: string, cause?: unknown) =>
  new StoreError('Denied', store, `${what}: access denied (${describe(cause)})`, { cause });

export function isStoreError(error: unknown, kind?: StoreErrorKind): error is StoreError {
  return error instanceof StoreError && (kind === undefined || error.kind === kind);
}

// A short, secret-free description of an underlying client error: its name,
// code and status only. Client error messages can echo request bodies, so
// they are not copied.
function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return 'unknown error';
  const { code, statusCode, $metadata } = cause as {
    code?: unknown;
    statusCode?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const status = statusCode ?? $metadata?.httpStatusCode;
  return [cause.name, code, status].filter((part) => part !== undefined && part !== '').join(' ');
}
