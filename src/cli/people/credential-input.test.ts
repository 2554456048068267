import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '../../config/errors.ts';
import { redactString } from '../../log/redact.ts';
import { readAwsAccessKey, readGenericFields, type GenericFieldsInput } from './credential-input.ts';
import type { Terminal } from './prompt.ts';

function terminal(options: { tty: boolean; input?: string }) {
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };
  if (options.tty) {
    stdin.isTTY = true;
    stdin.setRawMode = () => undefined;
  }
  const prompts: string[] = [];
  const stderr = new PassThrough().on('data', (chunk: Buffer) => prompts.push(chunk.toString()));
  if (options.input !== undefined) {
    if (options.tty) setImmediate(() => stdin.write(options.input));
    else stdin.end(options.input);
  }
  const t: Terminal = { stdin, stdout: new PassThrough(), stderr };
  return { t, prompts };
}

async function usageProblem(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).message;
}

const generic = (fields: Partial<GenericFieldsInput>): GenericFieldsInput => ({
  set: [],
  fromFile: [],
  prompt: [],
  fromStdin: false,
  ...fields,
});

describe('readAwsAccessKey', () => {
  it('takes {accessKeyId, secretAccessKey} from stdin', async () => {
    const { t } = terminal({
      tty: false,
      input: '{"accessKeyId":"AKIAEXAMPLE0001","secretAccessKey":"stdin-secret-1"}',
    });
    await expect(readAwsAccessKey({ fromStdin: true }, t)).resolves.toEqual({
      accessKeyId: 'AKIAEXAMPLE0001',
      secretAccessKey: 'stdin-secret-1',
    });
  });

  it('takes what `aws iam create-access-key` prints, and registers the secret for redaction', async () => {
    const printed = {
      AccessKey: {
        UserName: 'scanner',
        AccessKeyId: 'AKIAEXAMPLE0002',
        Status: 'Active',
        SecretAccessKey: 'from-aws-cli-secret-2',
        CreateDate: '2025-01-01T00:00:00Z',
      },
    };
    const { t } = terminal({ tty: false, input: JSON.stringify(printed) });
    await expect(readAwsAccessKey({ fromStdin: true }, t)).resolves.toEqual({
      accessKeyId: 'AKIAEXAMPLE0002',
      secretAccessKey: 'from-aws-cli-secret-2',
    });
    expect(redactString('oops: from-aws-cli-secret-2')).toBe('oops: [REDACTED]');
  });

  it('refuses stdin that is not JSON without quoting it', async () => {
    const { t } = terminal({ tty: false, input: 'wJalrXUtnFEMI-not-json' });
    const message = await usageProblem(readAwsAccessKey({ fromStdin: true }, t));
    expect(message).toBe('--from-stdin: stdin is not a JSON object');
  });

  it('names what is missing on stdin', async () => {
    const { t } = terminal({ tty: false, input: '{"accessKeyId":"AKIAEXAMPLE0003"}' });
    expect(await usageProblem(readAwsAccessKey({ fromStdin: true }, t))).toContain('no secretAccessKey');
  });

  it('refuses an --access-key-id that differs from stdin', async () => {
    const { t } = terminal({ tty: false, input: '{"accessKeyId":"AKIAEXAMPLE0004","secretAccessKey":"x-secret-4"}' });
    expect(await usageProblem(readAwsAccessKey({ fromStdin: true, accessKeyId: 'AKIAOTHER000000' }, t))).toContain(
      'differs',
    );
  });

  it('asks for both on a terminal, without echo', async () => {
    const { t, prompts } = terminal({ tty: true, input: 'AKIAEXAMPLE0005\rtyped-secret-5\r' });
    await expect(readAwsAccessKey({ fromStdin: false }, t)).resolves.toEqual({
      accessKeyId: 'AKIAEXAMPLE0005',
      secretAccessKey: 'typed-secret-5',
    });
    expect(prompts.join('')).toBe('AWS access key ID: \nAWS secret access key: \n');
  });

  it('asks only for the secret when the id is a flag', async () => {
    const { t, prompts } = terminal({ tty: true, input: 'typed-secret-6\r' });
    await expect(readAwsAccessKey({ fromStdin: false, accessKeyId: 'AKIAEXAMPLE0006' }, t)).resolves.toEqual({
      accessKeyId: 'AKIAEXAMPLE0006',
      secretAccessKey: 'typed-secret-6',
    });
    expect(prompts.join('')).toBe('AWS secret access key: \n');
  });

  it('says to use --from-stdin when stdin is not a terminal', async () => {
    const { t } = terminal({ tty: false });
    expect(await usageProblem(readAwsAccessKey({ fromStdin: false }, t))).toContain('--from-stdin');
  });

  it('refuses --from-stdin on a terminal, where the JSON would be echoed', async () => {
    const { t } = terminal({ tty: true });
    expect(await usageProblem(readAwsAccessKey({ fromStdin: true }, t))).toBe(
      '--from-stdin: stdin is a terminal; leave out --from-stdin to be asked without echo',
    );
  });
});

describe('readGenericFields', () => {
  it('combines --set, --from-file (byte for byte) and prompts', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'courier-fields-'));
    const keyFile = path.join(dir, 'id_ed25519');
    await writeFile(keyFile, '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n');
    const { t, prompts } = terminal({ tty: true, input: 'typed-passphrase\r' });
    const fields = await readGenericFields(
      generic({ set: [['username', 'scanner']], fromFile: [['privateKey', keyFile]], prompt: ['passphrase'] }),
      t,
    );
    expect(fields).toEqual({
      username: 'scanner',
      privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n',
      passphrase: 'typed-passphrase',
    });
    expect(prompts.join('')).toBe('passphrase: \n');
  });

  it('asks for a password when no secret source is named', async () => {
    const { t, prompts } = terminal({ tty: true, input: 'the-password\r' });
    await expect(readGenericFields(generic({ set: [['username', 'scanner']] }), t)).resolves.toEqual({
      username: 'scanner',
      password: 'the-password',
    });
    expect(prompts.join('')).toBe('password: \n');
  });

  it('reads every field from stdin JSON', async () => {
    const { t } = terminal({ tty: false, input: '{"username":"svc","password":"stdin-password"}' });
    await expect(readGenericFields(generic({ fromStdin: true }), t)).resolves.toEqual({
      username: 'svc',
      password: 'stdin-password',
    });
  });

  it.each([
    [generic({ set: [['user', 'a']], fromFile: [], prompt: ['user'] }), 'field user is given twice'],
    [generic({ set: [['bad name', 'a']], prompt: ['x'] }), 'field name "bad name"'],
    [generic({ prompt: ['a', 'a'] }), '--prompt names a field twice'],
    [generic({ fromFile: [['key', '/nonexistent/file']] }), '--from-file key=/nonexistent/file: ENOENT'],
  ])('refuses bad field lists before asking anything (%#)', async (input, message) => {
    const { t, prompts } = terminal({ tty: true });
    expect(await usageProblem(readGenericFields(input, t))).toContain(message);
    expect(prompts).toEqual([]);
  });

  it('refuses a stdin field that is not a string', async () => {
    const { t } = terminal({ tty: false, input: '{"port":22}' });
    expect(await usageProblem(readGenericFields(generic({ fromStdin: true }), t))).toBe(
      '--from-stdin: field port is not a string',
    );
  });

  it('says to use --from-stdin when it would have to prompt without a terminal', async () => {
    const { t } = terminal({ tty: false });
    expect(await usageProblem(readGenericFields(generic({ set: [['username', 'x']] }), t))).toContain('--from-stdin');
  });
});
