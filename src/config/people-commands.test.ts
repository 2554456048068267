import { describe, expect, it } from '@jest/globals';
import { Command } from 'commander';
import { ConfigError } from './errors.ts';
import { addOptions, readConfig, type ConfigOf, type OptionTable } from './options.ts';
import { connectAwsOptions, connectGenericOptions, doctorOptions, statusOptions } from './people-commands.ts';

function load<T extends OptionTable>(table: T, argv: string[]): ConfigOf<T> {
  const command = addOptions(new Command('test'), table).exitOverride().argument('[name]');
  command.parse(argv, { from: 'user' });
  return readConfig(table, command);
}

function problems(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('people command options', () => {
  it('collect repeated flags in order, split at the first "="', () => {
    const config = load(connectGenericOptions, [
      'bastion',
      '--set',
      'username=scanner',
      '--from-file',
      'privateKey=./id=ed25519',
      '--set',
      'domain=CORP',
      '--prompt',
      'passphrase',
      '--prompt',
      'pin',
    ]);
    expect(config.set).toEqual([
      ['username', 'scanner'],
      ['domain', 'CORP'],
    ]);
    expect(config.fromFile).toEqual([['privateKey', './id=ed25519']]);
    expect(config.prompt).toEqual(['passphrase', 'pin']);
  });

  it('default to empty lists and off switches', () => {
    const config = load(connectAwsOptions, ['prod']);
    expect(config).toMatchObject({
      serviceAccount: [],
      sessionTag: [],
      fromStdin: false,
      wait: false,
      allowLongLivedKey: false,
      timeout: 120_000,
      courierNamespace: 'courier-system',
    });
    expect(config.namespace).toBeUndefined();
  });

  it('take kubectl short flags', () => {
    expect(load(statusOptions, ['-n', 'team-a', '-o', 'yaml'])).toMatchObject({ namespace: 'team-a', output: 'yaml' });
    expect(load(doctorOptions, ['-A'])).toMatchObject({ allNamespaces: true });
  });

  it('name the flag of a bad value, without an environment variable it does not have', () => {
    expect(problems(() => load(connectAwsOptions, ['--session-tag', 'novalue']))).toEqual([
      'invalid --session-tag: expected KEY=VALUE, got "novalue"',
    ]);
    expect(problems(() => load(connectGenericOptions, ['--port', '70000']))).toEqual([
      'invalid --port: expected a port from 1 to 65535, got "70000"',
    ]);
    expect(problems(() => load(statusOptions, ['-o', 'wide']))).toEqual([
      'invalid --output: expected one of json, yaml, got "wide"',
    ]);
    expect(problems(() => load(connectAwsOptions, ['--service-account', 'Bad_Name']))[0]).toMatch(
      /^invalid --service-account: expected a DNS-1123 subdomain/,
    );
  });
});
