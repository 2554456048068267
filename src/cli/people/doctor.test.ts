import { describe, expect, it } from '@jest/globals';
import { formatResults } from './doctor.ts';

describe('formatResults', () => {
  it('prints one aligned line per finding', () => {
    expect(
      formatResults([
        { check: 'crds', status: 'OK', message: 'toolconnections.courier.dev: established, v1alpha1 served' },
        { check: 'certificates', status: 'WARN', message: 'courier-webhook-tls: overdue' },
        { check: 'leader', status: 'FAIL', message: 'no current leader' },
      ]),
    ).toBe(
      [
        'OK    crds          toolconnections.courier.dev: established, v1alpha1 served',
        'WARN  certificates  courier-webhook-tls: overdue',
        'FAIL  leader        no current leader',
        '',
      ].join('\n'),
    );
  });
});
