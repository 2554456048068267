// Reading a credential on a workstation: from a terminal without echo, or
// whole from stdin for scripts. Streams are passed in, so tests need no TTY.
import type { Readable, Writable } from 'node:stream';

export interface Terminal {
  stdin: Readable & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };
  stdout: Writable;
  stderr: Writable;
}

export const processTerminal = (): Terminal => ({
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});

/** The person pressed Ctrl-C or Ctrl-D at a prompt. */
export class PromptAborted extends Error {
  constructor(what: string) {
    super(`${what}: nothing was changed`);
    this.name = 'PromptAborted';
  }
}

export function canPrompt(terminal: Terminal): boolean {
  return terminal.stdin.isTTY === true && typeof terminal.stdin.setRawMode === 'function';
}

const ENTER = new Set(['\r', '\n']);
const ERASE = new Set(['\u007f', '\b']);
const INTERRUPT = '\u0003';
const END_OF_INPUT = '\u0004';
const ESCAPE = '\u001b';
const MAX_ANSWER = 64 * 1024;

/**
 * Asks `question` on stderr and reads one line from the terminal in raw mode,
 * so nothing typed or pasted is echoed. Backspace erases; Ctrl-C and Ctrl-D
 * abort. The terminal is put back as it was whatever happens.
 */
export function readHidden(terminal: Terminal, question: string): Promise<string> {
  const { stdin, stderr } = terminal;
  if (!canPrompt(terminal)) return Promise.reject(new Error('stdin is not a terminal'));
  // Raw before the question shows: whatever is typed once it is visible must not be echoed.
  stdin.setRawMode!(true);
  stderr.write(question);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise<string>((resolve, reject) => {
    let answer = '';
    // Arrow keys and the like arrive as escape sequences (ESC [ A); they are not part of the answer.
    let inEscape = false;
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.setRawMode!(false);
      stdin.pause();
      stderr.write('\n');
      if (error) reject(error);
      else resolve(answer);
    };
    const onEnd = () => finish(new PromptAborted('input ended'));
    const onData = (chunk: string) => {
      const chars = [...chunk];
      for (const [index, char] of chars.entries()) {
        if (inEscape) {
          inEscape = !/[A-Za-z~]/.test(char);
          continue;
        }
        if (char === ESCAPE) {
          inEscape = true;
          continue;
        }
        const ends = ENTER.has(char) || (char === END_OF_INPUT && answer !== '');
        if (ends) {
          // What was typed (or pasted) after the line belongs to the next prompt.
          finish();
          const rest = chars.slice(index + 1).join('');
          if (rest) stdin.unshift(rest);
          return;
        }
        if (char === INTERRUPT) return finish(new PromptAborted('interrupted'));
        if (char === END_OF_INPUT) return finish(new PromptAborted('input ended'));
        if (ERASE.has(char)) answer = answer.slice(0, -1);
        else if (char >= ' ') answer += char;
        if (answer.length > MAX_ANSWER) return finish(new Error(`the answer is longer than ${MAX_ANSWER} characters`));
      }
    };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
  });
}

const MAX_STDIN = 1024 * 1024;

/** All of stdin, for `--from-stdin`; refuses more than 1 MiB. */
export async function readAllInput(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_STDIN) throw new Error('stdin holds more than 1 MiB; a credential is far smaller');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
