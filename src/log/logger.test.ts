import { describe, expect, it } from '@jest/globals';
import { createLogger, type LogLevel } from './logger.ts';
import { REDACTED, registerSecret } from './redact.ts';

function capturingLogger(level: LogLevel = 'info') {
  const lines: string[] = [];
  const logger = createLogger({ level, component: 'test', destination: { write: (line: string) => lines.push(line) } });
  const records = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, records };
}

describe('createLogger', () => {
  it('writes one JSON line per record with level, time, component and msg', () => {
    const { logger, lines, records } = capturingLogger();
    logger.info('first');
    logger.warn({ attempt: 2 }, 'second');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line.endsWith('\n') && !line.slice(0, -1).includes('\n')).toBe(true);
    const [first, second] = records();
    expect(first).toEqual({ level: 'info', time: expect.any(String), component: 'test', msg: 'first' });
    expect(Number.isNaN(Date.parse(first?.time as string))).toBe(false);
    expect(second).toMatchObject({ level: 'warn', attempt: 2, msg: 'second' });
  });

  it('drops records below its level', () => {
    const { logger, lines } = capturingLogger('warn');
    logger.info('quiet');
    logger.error('loud');
    expect(lines).toHaveLength(1);
  });

  it('redacts sensitive keys and registered values everywhere in a record', () => {
    registerSecret('logger-secret-value');
    const { logger, records } = capturingLogger();
    logger.info(
      { request: { headers: { authorization: 'Bearer xyz' } }, note: 'saw logger-secret-value here' },
      'message mentions logger-secret-value',
    );
    expect(records()[0]).toMatchObject({
      request: { headers: { authorization: REDACTED } },
      note: `saw ${REDACTED} here`,
      msg: `message mentions ${REDACTED}`,
    });
  });

  it('redacts interpolated message arguments', () => {
    registerSecret('interpolated-secret');
    const { logger, lines } = capturingLogger();
    logger.info('value=%s', 'interpolated-secret');
    expect(lines[0]).not.toContain('interpolated-secret');
    expect(lines[0]).toContain(`value=${REDACTED}`);
  });

  it('logs an Error under err with type, message, stack and code, redacted', () => {
    registerSecret('error-secret-value');
    const { logger, records } = capturingLogger();
    const error = Object.assign(new Error('could not use error-secret-value'), { code: 'E_TEST' });
    logger.error({ err: error }, 'operation failed');
    logger.error(error);
    const [withKey, bare] = records();
    const expected = {
      type: 'Error',
      message: `could not use ${REDACTED}`,
      stack: expect.stringContaining(`Error: could not use ${REDACTED}`),
      code: 'E_TEST',
    };
    expect(withKey).toMatchObject({ level: 'error', msg: 'operation failed', err: expected });
    expect(bare).toMatchObject({ level: 'error', msg: `could not use ${REDACTED}`, err: expected });
    expect(JSON.stringify(records())).not.toContain('error-secret-value');
  });

  it('redacts child and grandchild logger bindings', () => {
    registerSecret('binding-secret-value');
    const { logger, records } = capturingLogger();
    const child = logger.child({ apiKey: 'abc', connection: 'binding-secret-value' });
    child.info('from child');
    child.child({ sessionToken: 'xyz', scope: 'grandchild' }).info('from grandchild');
    const [fromChild, fromGrandchild] = records();
    expect(fromChild).toMatchObject({ apiKey: REDACTED, connection: REDACTED, component: 'test' });
    expect(fromGrandchild).toMatchObject({ apiKey: REDACTED, sessionToken: REDACTED, scope: 'grandchild' });
  });

  it('does not modify the objects it is given', () => {
    const { logger } = capturingLogger();
    const error = new Error('kept');
    const fields = { password: 'p4ssw0rd', nested: { token: 't0k3n-value' }, err: error };
    logger.info(fields, 'logged');
    expect(fields).toEqual({ password: 'p4ssw0rd', nested: { token: 't0k3n-value' }, err: error });
    expect(fields.err).toBe(error);
  });
});
