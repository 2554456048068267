// RFC 6902 JSON Patch, applied strictly as RFC 6902 and RFC 6901 (JSON
// Pointer) say, to check patches the way the apiserver applies them: a
// pointer must resolve, an array index must be a plain decimal within
// bounds, and any failing operation fails the whole patch. The webhook's own
// fixture applier knows only the `add` it emits; this one would notice a
// patch that relies on leniency.

export type JsonPatchOperation =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };

export class JsonPatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonPatchError';
  }
}

/** The reference tokens of a JSON pointer ("" is the whole document). */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new JsonPatchError(`${JSON.stringify(pointer)} is not a JSON pointer`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => {
      if (/~[^01]|~$/.test(token)) throw new JsonPatchError(`${JSON.stringify(pointer)} has a bad escape`);
      return token.replaceAll('~1', '/').replaceAll('~0', '~');
    });
}

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return isContainer(value) && !Array.isArray(value);
}

function hasMember(object: Record<string, unknown>, key: string): boolean {
  return Object.hasOwn(object, key);
}

/** An array index token: "0" or a decimal without leading zeros, below `limit` (inclusive when adding). */
function arrayIndex(token: string, length: number, forAdd: boolean, pointer: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(token))
    throw new JsonPatchError(`${pointer}: ${JSON.stringify(token)} is not an index`);
  const index = Number(token);
  if (index > length || (!forAdd && index === length)) throw new JsonPatchError(`${pointer}: index out of bounds`);
  return index;
}

/** The value a pointer names; throws when it names nothing. */
export function resolvePointer(document: unknown, pointer: string): unknown {
  let current = document;
  for (const token of parsePointer(pointer)) {
    if (Array.isArray(current)) current = current[arrayIndex(token, current.length, false, pointer)];
    else if (isObject(current) && hasMember(current, token)) current = current[token];
    else throw new JsonPatchError(`${pointer}: nothing at ${JSON.stringify(token)}`);
  }
  return current;
}

/** The container a pointer's last token lives in, and that token. */
function parentOf(document: unknown, pointer: string): { parent: Container; key: string } {
  const tokens = parsePointer(pointer);
  const key = tokens.pop();
  if (key === undefined) throw new JsonPatchError('the whole document is not a member of anything');
  const parent = resolvePointer(
    document,
    tokens.map((t) => `/${t.replaceAll('~', '~0').replaceAll('/', '~1')}`).join(''),
  );
  if (!isContainer(parent)) throw new JsonPatchError(`${pointer}: the parent is not an object or array`);
  return { parent, key };
}

function add(document: unknown, pointer: string, value: unknown): unknown {
  if (pointer === '') return value;
  const { parent, key } = parentOf(document, pointer);
  if (Array.isArray(parent)) {
    const index = key === '-' ? parent.length : arrayIndex(key, parent.length, true, pointer);
    parent.splice(index, 0, value);
  } else {
    parent[key] = value;
  }
  return document;
}

function remove(document: unknown, pointer: string): unknown {
  const { parent, key } = parentOf(document, pointer);
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(key, parent.length, false, pointer), 1);
  } else {
    if (!hasMember(parent, key)) throw new JsonPatchError(`${pointer}: nothing to remove`);
    delete parent[key];
  }
  return document;
}

/** Structural equality of JSON values, as the `test` operation compares. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => hasMember(b, key) && jsonEqual(a[key], b[key]));
  }
  return a === b;
}

/** Applies one operation to `document` in place; returns the result (a new root only for the root path). */
export function applyOperation(document: unknown, operation: JsonPatchOperation): unknown {
  switch (operation.op) {
    case 'add':
      return add(document, operation.path, structuredClone(operation.value));
    case 'remove':
      return remove(document, operation.path);
    case 'replace':
      resolvePointer(document, operation.path);
      return operation.path === ''
        ? structuredClone(operation.value)
        : add(remove(document, operation.path), operation.path, structuredClone(operation.value));
    case 'move': {
      if (operation.path.startsWith(`${operation.from}/`))
        throw new JsonPatchError(`cannot move ${operation.from} into itself`);
      const value = resolvePointer(document, operation.from);
      return add(remove(document, operation.from), operation.path, value);
    }
    case 'copy':
      return add(document, operation.path, structuredClone(resolvePointer(document, operation.from)));
    case 'test':
      if (!jsonEqual(resolvePointer(document, operation.path), operation.value))
        throw new JsonPatchError(`test failed at ${operation.path}`);
      return document;
    default:
      throw new JsonPatchError(`unknown operation ${JSON.stringify((operation as { op: unknown }).op)}`);
  }
}

/** Applies `patch` to a copy of `document`; throws JsonPatchError when any operation fails. */
export function applyJsonPatch<T>(document: T, patch: readonly JsonPatchOperation[]): T {
  return patch.reduce<unknown>(applyOperation, structuredClone(document)) as T;
}
