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
  /** Positional arguments in commander syntax, e.g. "<name>"; their values are in `command.processedArgs`. */
  readonly arguments?: readonly string[];
  /** Commands under this one (`connect aws`); a command with them runs none itself. */
  readonly subcommands?: readonly CommandDefinition[];
  /** Runs the command and resolves with the process exit code. */
  run?(command: Command): Promise<number>;
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
  const declare = (parent: Command, definition: CommandDefinition): void => {
    // .command() (unlike .addCommand()) passes exitOverride on to the subcommand.
    const command = parent.command(definition.name).description(definition.description);
    command.helpGroup(definition.helpGroup);
    for (const argument of definition.arguments ?? []) command.argument(argument);
    if (definition.options) addOptions(command, definition.options);
    for (const sub of definition.subcommands ?? []) declare(command, sub);
    const run = definition.run;
    if (run) {
      // Commander passes the arguments, the options, then the command itself.
      command.action(async (...args: unknown[]) => {
        exitCode = await run(args.at(-1) as Command);
      });
    }
  };
  for (const definition of variant.commands) declare(program, definition);
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
