import type { Command } from 'commander';
import { ExitCode } from '../../runtime/exit-codes.ts';
import { printProblem } from '../program.ts';

/**
 * The run function of a command whose feature is not built yet: it says so
 * plainly and exits with code 3 instead of pretending to work.
 */
export function notImplementedYet(feature: string): (command: Command) => Promise<number> {
  return async (command) => {
    printProblem(
      command.parent?.name() ?? command.name(),
      `not implemented yet: ${command.name()} arrives with ${feature}`,
    );
    return ExitCode.notImplemented;
  };
}
