import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '../../config/errors.ts';
import { exitCodeOf, remoteCommand } from './remote-rotate-keys.ts';

describe('remoteCommand', () => {
  it('passes what to rotate on to courier rotate-keys in the pod', () => {
    expect(remoteCommand({ kek: true, tenants: undefined, allTenants: false })).toEqual([
      'courier',
      'rotate-keys',
      '--kek',
    ]);
    expect(remoteCommand({ kek: false, tenants: ['team-a', 'team-b'], allTenants: false })).toEqual([
      'courier',
      'rotate-keys',
      '--tenants',
      'team-a,team-b',
    ]);
    expect(remoteCommand({ kek: true, tenants: undefined, allTenants: true })).toEqual([
      'courier',
      'rotate-keys',
      '--kek',
      '--all-tenants',
    ]);
  });

  it('is a usage error when nothing is asked for', () => {
    expect(() => remoteCommand({ kek: false, tenants: undefined, allTenants: false })).toThrow(ConfigError);
  });
});

describe('exitCodeOf', () => {
  it('maps the exec status to the remote exit code', () => {
    expect(exitCodeOf({ status: 'Success', metadata: {} })).toEqual({ code: 0 });
    expect(
      exitCodeOf({
        status: 'Failure',
        reason: 'NonZeroExitCode',
        message:
          'command terminated with non-zero exit code: error executing command [courier rotate-keys], exit code 2',
        details: { causes: [{ reason: 'ExitCode', message: '2' }] },
      }),
    ).toEqual({ code: 2 });
  });

  it('turns any other failure into exit 1 with its message', () => {
    expect(
      exitCodeOf({ status: 'Failure', reason: 'InternalError', message: 'container not found ("manager")' }),
    ).toEqual({
      code: 1,
      problem: 'container not found ("manager")',
    });
  });
});
