// Runs `kubectl-courier` as a person would: with stdin from a pipe (scripts,
// --from-stdin), or on a real pseudo-terminal so prompts read without echo.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cleanEnv, KUBECTL_PLUGIN, type Finished } from './component.ts';

/** Runs the plugin to its end; `input` is written to its stdin, which is then closed. */
export async function runPlugin(args: string[], input = '', env: Record<string, string> = {}): Promise<Finished> {
  const child = spawn(process.execPath, [KUBECTL_PLUGIN, ...args], { env: cleanEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input);
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/**
 * Runs the plugin on a pseudo-terminal (Python's pty module, from the
 * system's python3) and answers its prompts: each time the terminal shows
 * `answers[i].prompt`, `answers[i].text` and Enter are typed. `screen` is
 * everything the terminal displayed, stdout and stderr together, as a person
 * would see it: what was typed at a hidden prompt must not be in it.
 */
export async function runPluginOnTerminal(
  args: string[],
  answers: Array<{ prompt: string; text: string }>,
): Promise<{ code: number | null; screen: string }> {
  const spawner = 'import pty, sys\nsys.exit(pty.spawn(sys.argv[1:]) >> 8)';
  const child = spawn('python3', ['-c', spawner, process.execPath, KUBECTL_PLUGIN, ...args], { env: cleanEnv() });
  let screen = '';
  let next = 0;
  let shown = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString();
    const answer = answers[next];
    if (answer && screen.indexOf(answer.prompt, shown) !== -1) {
      shown = screen.indexOf(answer.prompt, shown) + answer.prompt.length;
      next++;
      child.stdin.write(`${answer.text}\r`);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (screen += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, screen };
}
