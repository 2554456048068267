// start() for Jest suites: components a test starts are killed after it,
// even when it fails half-way.
import { afterEach } from '@jest/globals';
import { RunningComponent } from './component.ts';

const running: RunningComponent[] = [];
afterEach(() => {
  for (const component of running.splice(0)) component.child.kill('SIGKILL');
});

export function start(args: string[], env: Record<string, string> = {}): RunningComponent {
  const component = new RunningComponent(args, env);
  running.push(component);
  return component;
}
