// Gathers the secret part of a connection on the workstation: from a hidden
// prompt, from files, or as JSON on stdin (--from-stdin) for scripts. Each
// secret value is registered for redaction at once, so no error message can
// carry it. Problems name fields, never values.
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../../config/errors.ts';
import type { Credential } from '../../crypto/fingerprint.ts';
import { registerSecret } from '../../log/redact.ts';
import { canPrompt, readAllInput, readHidden, type Terminal } from './prompt.ts';

/** As the ToolConnection controller accepts field names (src/controllers/toolconnection/source.ts). */
const FIELD_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;

const NOT_A_TERMINAL =
  'stdin is not a terminal, so the credential cannot be asked for: pass it as JSON with --from-stdin';

/** Fields in the order given; a field given twice is an error. */
class Fields {
  readonly values: Credential = {};

  /** Throws unless `field` is a good name not given yet: checked before a prompt asks for it. */
  check(field: string): void {
    if (!FIELD_NAME.test(field)) {
      throw new ConfigError([`field name ${JSON.stringify(field)}: use letters, digits, ".", "_" or "-"`]);
    }
    if (field in this.values) throw new ConfigError([`field ${field} is given twice`]);
  }

  add(field: string, value: string, secret: boolean): void {
    this.check(field);
    if (value === '') throw new ConfigError([`field ${field} is empty`]);
    if (secret) registerSecret(value);
    this.values[field] = value;
  }
}

/** Reads stdin as one JSON object whose values are all strings. */
async function stdinObject(terminal: Terminal): Promise<Record<string, unknown>> {
  // Typed on a terminal, the JSON would be echoed: the prompts are for that.
  if (terminal.stdin.isTTY) {
    throw new ConfigError(['--from-stdin: stdin is a terminal; leave out --from-stdin to be asked without echo']);
  }
  const text = await readAllInput(terminal.stdin);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's message may quote the input: say only what was expected.
    throw new ConfigError(['--from-stdin: stdin is not a JSON object']);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(['--from-stdin: stdin is not a JSON object']);
  }
  return value as Record<string, unknown>;
}

function stringField(object: Record<string, unknown>, field: string): string | undefined {
  const value = object[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ConfigError([`--from-stdin: field ${field} is not a string`]);
  return value;
}

export interface AwsKeyInput {
  accessKeyId?: string;
  fromStdin: boolean;
}

/**
 * An IAM access key. From stdin, either {"accessKeyId", "secretAccessKey"} or
 * what `aws iam create-access-key` prints ({"AccessKey": {"AccessKeyId", …}}),
 * so the two commands can be piped together.
 */
export async function readAwsAccessKey(input: AwsKeyInput, terminal: Terminal): Promise<Credential> {
  let accessKeyId = input.accessKeyId;
  let secretAccessKey: string | undefined;
  if (input.fromStdin) {
    const object = await stdinObject(terminal);
    const nested = object.AccessKey;
    const source = typeof nested === 'object' && nested !== null ? (nested as Record<string, unknown>) : object;
    const fromStdin = stringField(source, 'accessKeyId') ?? stringField(source, 'AccessKeyId');
    secretAccessKey = stringField(source, 'secretAccessKey') ?? stringField(source, 'SecretAccessKey');
    if (secretAccessKey) registerSecret(secretAccessKey);
    if (fromStdin && accessKeyId && fromStdin !== accessKeyId) {
      throw new ConfigError(['--access-key-id differs from the access key id on stdin']);
    }
    accessKeyId ??= fromStdin;
    if (!accessKeyId) throw new ConfigError(['--from-stdin: no accessKeyId (or AccessKey.AccessKeyId) on stdin']);
    if (!secretAccessKey) {
      throw new ConfigError(['--from-stdin: no secretAccessKey (or AccessKey.SecretAccessKey) on stdin']);
    }
  } else {
    if (!canPrompt(terminal)) throw new ConfigError([NOT_A_TERMINAL]);
    accessKeyId ??= (await readHidden(terminal, 'AWS access key ID: ')).trim();
    secretAccessKey = (await readHidden(terminal, 'AWS secret access key: ')).trim();
    registerSecret(secretAccessKey);
    if (!accessKeyId || !secretAccessKey) throw new ConfigError(['the access key id and secret may not be empty']);
  }
  return { accessKeyId, secretAccessKey };
}

export interface GenericFieldsInput {
  /** Fields that are not secret, from the command line (--set). */
  set: Array<[string, string]>;
  /** Fields read from files (--from-file KEY=PATH), kept byte for byte. */
  fromFile: Array<[string, string]>;
  /** Fields to ask for without echo (--prompt KEY). */
  prompt: string[];
  fromStdin: boolean;
}

/** The fields of a generic credential; with no secret source named, asks for a password. */
export async function readGenericFields(input: GenericFieldsInput, terminal: Terminal): Promise<Credential> {
  const fields = new Fields();
  for (const [field, value] of input.set) fields.add(field, value, false);
  for (const [field, path] of input.fromFile) {
    let content: string;
    try {
      content = await readFile(path, 'utf8');
    } catch (error) {
      throw new ConfigError([`--from-file ${field}=${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`]);
    }
    fields.add(field, content, true);
  }
  if (input.fromStdin) {
    const object = await stdinObject(terminal);
    for (const field of Object.keys(object)) fields.add(field, stringField(object, field)!, true);
  }
  const prompts = input.prompt.length > 0 || input.fromFile.length > 0 || input.fromStdin ? input.prompt : ['password'];
  if (prompts.length > 0 && !canPrompt(terminal)) throw new ConfigError([NOT_A_TERMINAL]);
  for (const field of new Set(prompts)) fields.check(field);
  if (new Set(prompts).size !== prompts.length) throw new ConfigError(['--prompt names a field twice']);
  for (const field of prompts) fields.add(field, await readHidden(terminal, `${field}: `), true);
  if (Object.keys(fields.values).length === 0) throw new ConfigError(['the credential has no fields']);
  return fields.values;
}
