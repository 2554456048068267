// Runs one invocation of a Courier command line and turns its outcome into an
// exit code. The commands themselves live in ./commands/.
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/errors.ts';
import { addOptions, type OptionTable } from '../config/options.ts';
import { redactString } from '../log/redact.ts';
import { ExitCode } from '../runtime/exit-codes.ts';

export interface CommandDefinition {
  readonly name: string;
  readonly description: string;
  /** Help section heading, e.g. "Cluster components:". */
  readonly helpGroup: string;
  readonly options?: OptionTable;
  /** Runs the command and resolves with the process exit code. */
  run(command: Command): Promise<number>;
}

export interface CliVariant {
  /** As the user types it: "courier" or "kubectl courier". */
  readonly name: string;
  readonly description: string;
  readonly commands: readonly CommandDefinition[];
}

/** Parses `argv` (as in process.argv), runs the chosen command and returns the exit code. */
export async function runCli(variant: CliVariant, argv: readonly string[]): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = new Command(variant.name).description(variant.description).exitOverride();
  for (const definition of variant.commands) {
    // .command() (unlike .addCommand()) passes exitOverride on to the subcommand.
    const command = program.command(definition.name).description(definition.description);
    command.helpGroup(definition.helpGroup);
    if (definition.options) addOptions(command, definition.options);
    command.action(async (_options: unknown, self: Command) => {
      exitCode = await definition.run(self);
    });
  }
  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (err) {
    return exitCodeFor(variant.name, err);
  }
}

function exitCodeFor(programName: string, err: unknown): number {
  if (err instanceof CommanderError) {
    // Commander has printed help or its own error message already.
    return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (err instanceof ConfigError) {
    for (const problem of err.problems) printProblem(programName, problem);
    return ExitCode.usage;
  }
  printProblem(programName, err instanceof Error ? (err.stack ?? err.message) : String(err));
  return ExitCode.failure;
}

/** Writes "<program>: <message>" to stderr, scrubbed of registered secrets. */
export function printProblem(programName: string, message: string): void {
  process.stderr.write(`${programName}: ${redactString(message)}\n`);
}
