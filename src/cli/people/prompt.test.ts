import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { canPrompt, PromptAborted, readAllInput, readHidden, type Terminal } from './prompt.ts';

/** A terminal as a TTY looks to Node: stdin with isTTY and setRawMode; what is written is kept. */
function fakeTerminal(tty = true) {
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };
  const rawModes: boolean[] = [];
  if (tty) {
    stdin.isTTY = true;
    stdin.setRawMode = (raw: boolean) => rawModes.push(raw);
  }
  const written = { stdout: '', stderr: '' };
  const sink = (key: 'stdout' | 'stderr') =>
    new PassThrough().on('data', (chunk: Buffer) => (written[key] += chunk.toString()));
  const terminal: Terminal = { stdin, stdout: sink('stdout'), stderr: sink('stderr') };
  return { terminal, stdin, rawModes, written };
}

describe('readHidden', () => {
  it('reads one line in raw mode, echoing nothing but the question and a newline', async () => {
    const { terminal, stdin, rawModes, written } = fakeTerminal();
    const answer = readHidden(terminal, 'password: ');
    stdin.write('s3cr');
    stdin.write('et-value\r');
    await expect(answer).resolves.toBe('s3cret-value');
    expect(rawModes).toEqual([true, false]);
    expect(written.stderr).toBe('password: \n');
    expect(written.stdout).toBe('');
  });

  it('erases with backspace and DEL, and drops escape sequences such as arrow keys', async () => {
    const { terminal, stdin } = fakeTerminal();
    const answer = readHidden(terminal, '? ');
    stdin.write('abx\u007fc\u001b[Dd\bz\n');
    await expect(answer).resolves.toBe('abcz');
  });

  it('leaves what follows a pasted line to the next prompt', async () => {
    const { terminal, stdin, written } = fakeTerminal();
    const first = readHidden(terminal, 'id: ');
    stdin.write('AKIAEXAMPLE\rsecret-value\r');
    await expect(first).resolves.toBe('AKIAEXAMPLE');
    await expect(readHidden(terminal, 'secret: ')).resolves.toBe('secret-value');
    expect(written.stderr).toBe('id: \nsecret: \n');
  });

  it.each([
    ['Ctrl-C', '\u0003', 'interrupted'],
    ['Ctrl-D on an empty line', '\u0004', 'input ended'],
  ])('aborts on %s and restores the terminal', async (_what, key, message) => {
    const { terminal, stdin, rawModes } = fakeTerminal();
    const answer = readHidden(terminal, '? ');
    stdin.write(`${key}`);
    await expect(answer).rejects.toThrow(new PromptAborted(message));
    expect(rawModes).toEqual([true, false]);
  });

  it('aborts when input ends before a line does', async () => {
    const { terminal, stdin } = fakeTerminal();
    const answer = readHidden(terminal, '? ');
    stdin.end('partial');
    await expect(answer).rejects.toThrow(PromptAborted);
  });

  it('refuses a stdin that is not a terminal', async () => {
    const { terminal } = fakeTerminal(false);
    expect(canPrompt(terminal)).toBe(false);
    await expect(readHidden(terminal, '? ')).rejects.toThrow('stdin is not a terminal');
  });
});

describe('readAllInput', () => {
  it('reads all of stdin', async () => {
    await expect(readAllInput(Readable.from([Buffer.from('{"a":'), Buffer.from('"b"}')]))).resolves.toBe('{"a":"b"}');
  });

  it('refuses more than 1 MiB', async () => {
    const big = Readable.from([Buffer.alloc(1024 * 1024 + 1, 'x')]);
    await expect(readAllInput(big)).rejects.toThrow('more than 1 MiB');
  });
});
