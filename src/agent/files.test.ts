import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CredentialResponse } from '../api/v1alpha1/delivery.ts';
import {
  CredentialLayoutError,
  credentialFiles,
  writeConnectionFiles,
  writeFileAtomically,
  writeReadyMarker,
} from './files.ts';
import { tmpfsDir } from './testing/support.ts';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await tmpfsDir());
});
afterEach(() => remove());

const assumeRole: CredentialResponse = {
  connection: 'aws-prod',
  kind: 'aws/assumeRole',
  expiration: '2031-05-04T12:00:00Z',
  aws: {
    accessKeyId: 'ASIAEXAMPLE123',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    sessionToken: 'FwoGZXIvYXdzEXAMPLE==',
    region: 'eu-west-1',
  },
};

const generic: CredentialResponse = {
  connection: 'db',
  kind: 'generic',
  generic: {
    purpose: 'postgres',
    host: 'db.example.com',
    port: 5432,
    fields: { username: 'scanner', password: 'p@ss word\n', 'ca.pem': '-----BEGIN CERTIFICATE-----\n' },
  },
};

async function modeOf(file: string): Promise<number> {
  return (await stat(file)).mode & 0o7777;
}

describe('credentialFiles', () => {
  it('lays out assumed-role credentials as AWS shared files and credential_process JSON', () => {
    const files = credentialFiles(assumeRole);
    expect([...files.keys()]).toEqual(['credentials', 'config', 'credentials.json']);
    expect(files.get('credentials')).toBe(
      '[default]\n' +
        'aws_access_key_id = ASIAEXAMPLE123\n' +
        'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n' +
        'aws_session_token = FwoGZXIvYXdzEXAMPLE==\n',
    );
    expect(files.get('config')).toBe('[default]\nregion = eu-west-1\n');
    expect(files.get('credentials.json')).toBe(
      '{\n' +
        '  "Version": 1,\n' +
        '  "AccessKeyId": "ASIAEXAMPLE123",\n' +
        '  "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",\n' +
        '  "SessionToken": "FwoGZXIvYXdzEXAMPLE==",\n' +
        '  "Expiration": "2031-05-04T12:00:00Z"\n' +
        '}\n',
    );
  });

  it('leaves out the session token and expiration of a long-lived key', () => {
    const files = credentialFiles({
      connection: 'aws-key',
      kind: 'aws/accessKey',
      aws: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secretsecret', region: 'us-east-1' },
    });
    expect(files.get('credentials')).toBe(
      '[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secretsecret\n',
    );
    expect(JSON.parse(files.get('credentials.json')!)).toEqual({
      Version: 1,
      AccessKeyId: 'AKIAEXAMPLE',
      SecretAccessKey: 'secretsecret',
    });
  });

  it('makes one file per generic field, with the exact value, and a credentials.json', () => {
    const files = credentialFiles(generic);
    expect(Object.fromEntries(files)).toEqual({
      username: 'scanner',
      password: 'p@ss word\n',
      'ca.pem': '-----BEGIN CERTIFICATE-----\n',
      'credentials.json':
        '{\n' +
        '  "purpose": "postgres",\n' +
        '  "host": "db.example.com",\n' +
        '  "port": 5432,\n' +
        '  "fields": {\n' +
        '    "username": "scanner",\n' +
        '    "password": "p@ss word\\n",\n' +
        '    "ca.pem": "-----BEGIN CERTIFICATE-----\\n"\n' +
        '  }\n' +
        '}\n',
    });
  });

  it.each(['../escape', '.hidden', 'a/b', '', 'x'.repeat(64), 'credentials.json', 'credentials', 'config', '-flag'])(
    'refuses the field name %j',
    (name) => {
      const response = { ...generic, generic: { purpose: 'x', fields: { [name]: 'value', ok: 'value' } } };
      expect(() => credentialFiles(response)).toThrow(CredentialLayoutError);
    },
  );

  it('accepts field names of letters, digits, dot, underscore and dash up to 63 characters', () => {
    const names = ['a', 'A9', 'private_key.pem', 'x-y.z_1', `a${'b'.repeat(62)}`];
    const response = {
      ...generic,
      generic: { purpose: 'x', fields: Object.fromEntries(names.map((name) => [name, 'v'])) },
    };
    expect([...credentialFiles(response).keys()]).toEqual([...names, 'credentials.json']);
  });
});

describe('writeConnectionFiles', () => {
  it.each([
    ['0400', 0o400, 0o700],
    ['0440', 0o440, 0o750],
  ] as const)('writes files with mode %s in a directory only their readers can enter', async (_, fileMode, dirMode) => {
    const written = await writeConnectionFiles(dir, 'aws-prod', credentialFiles(assumeRole), fileMode);
    const connectionDir = path.join(dir, 'aws-prod');
    expect(written).toEqual(
      ['credentials', 'config', 'credentials.json'].map((name) => path.join(connectionDir, name)),
    );
    expect(await modeOf(connectionDir)).toBe(dirMode);
    for (const file of written) expect(await modeOf(file)).toBe(fileMode);
    expect(await readFile(path.join(connectionDir, 'config'), 'utf8')).toBe('[default]\nregion = eu-west-1\n');
    expect((await readdir(connectionDir)).sort()).toEqual(['config', 'credentials', 'credentials.json']);
  });

  it('sets the modes exactly whatever the umask', async () => {
    const previous = process.umask(0o277);
    try {
      await writeConnectionFiles(dir, 'db', credentialFiles(generic), 0o440);
    } finally {
      process.umask(previous);
    }
    expect(await modeOf(path.join(dir, 'db'))).toBe(0o750);
    for (const name of ['username', 'password', 'ca.pem', 'credentials.json']) {
      expect(await modeOf(path.join(dir, 'db', name))).toBe(0o440);
    }
  });

  it('keeps the setgid bit an fsGroup volume gives new directories, so files keep that group', async () => {
    const volume = path.join(dir, 'volume');
    await mkdir(volume);
    await chmod(volume, 0o2777);
    await writeConnectionFiles(volume, 'db', credentialFiles(generic), 0o440);
    const { mode, gid } = await stat(path.join(volume, 'db'));
    expect(mode & 0o7777).toBe(0o2750);
    expect((await stat(path.join(volume, 'db', 'password'))).gid).toBe(gid);
  });

  it('tightens a directory and files left with wider modes', async () => {
    await mkdir(path.join(dir, 'db'), { mode: 0o777 });
    await writeConnectionFiles(dir, 'db', credentialFiles(generic), 0o440);
    await writeConnectionFiles(dir, 'db', credentialFiles(generic), 0o400);
    expect(await modeOf(path.join(dir, 'db'))).toBe(0o700);
    expect(await modeOf(path.join(dir, 'db', 'password'))).toBe(0o400);
  });

  it('replaces changed values and removes fields (and stray temp files) that are gone', async () => {
    await writeConnectionFiles(dir, 'db', credentialFiles(generic), 0o400);
    await writeFile(path.join(dir, 'db', '.password.tmp-abandoned'), 'left by a killed agent');
    const next = { ...generic, generic: { purpose: 'postgres', fields: { username: 'scanner2', token: 'tok' } } };
    await writeConnectionFiles(dir, 'db', credentialFiles(next), 0o400);
    expect((await readdir(path.join(dir, 'db'))).sort()).toEqual(['credentials.json', 'token', 'username']);
    expect(await readFile(path.join(dir, 'db', 'username'), 'utf8')).toBe('scanner2');
    expect(JSON.parse(await readFile(path.join(dir, 'db', 'credentials.json'), 'utf8'))).toEqual({
      purpose: 'postgres',
      fields: { username: 'scanner2', token: 'tok' },
    });
  });

  it('leaves no temp file behind when a write fails, and keeps the old file', async () => {
    await writeFileAtomically(dir, 'kept', 'old', 0o400);
    // A directory in the way makes the rename fail after the temp file was written.
    await mkdir(path.join(dir, 'blocked'));
    await writeFile(path.join(dir, 'blocked', 'inside'), '');
    await expect(writeFileAtomically(dir, 'blocked', 'new', 0o400)).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(['blocked', 'kept']);
    expect(await readFile(path.join(dir, 'kept'), 'utf8')).toBe('old');
  });
});

describe('writeReadyMarker', () => {
  it('writes an empty marker with the file mode', async () => {
    const marker = await writeReadyMarker(dir, 0o440);
    expect(marker).toBe(path.join(dir, '.courier-ready'));
    expect(await readFile(marker, 'utf8')).toBe('');
    expect(await modeOf(marker)).toBe(0o440);
    expect(await readdir(dir)).toEqual(['.courier-ready']);
  });
});
