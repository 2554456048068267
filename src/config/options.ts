// One declarative table of option specs per command drives its help text, its
// environment variables and its validation, so the three cannot drift apart.
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { ConfigError } from './errors.ts';

export interface OptionSpec<T = unknown> {
  /** Commander flag syntax, e.g. "--metrics-bind-address <host:port>". */
  readonly flags: string;
  /**
   * The environment variable that sets the option when the flag is absent.
   * Commands people type (kubectl conventions) leave it out for flags a stray
   * variable should not change, such as a role ARN.
   */
  readonly env?: string;
  readonly description: string;
  /** Raw default, shown in help and validated like any supplied value. */
  readonly defaultValue?: string;
  /** Value taken when the flag is given without one ("--leader-elect"). */
  readonly presetValue?: string;
  /** The flag may be given more than once; the schema gets every value, in order, as an array. */
  readonly repeatable?: boolean;
  /** Turns the raw string (undefined when unset) into the typed value. */
  readonly schema: z.ZodType<T>;
}

/** Keyed by the camelCase property name, which commander derives from the long flag. */
export type OptionTable = Readonly<Record<string, OptionSpec>>;

export type ConfigOf<T extends OptionTable> = {
  readonly [K in keyof T]: T[K] extends OptionSpec<infer V> ? V : never;
};

function toOption(key: string, spec: OptionSpec): Option {
  const option = new Option(spec.flags, spec.description);
  if (spec.env !== undefined) option.env(spec.env);
  if (spec.repeatable)
    option.argParser((value: string, previous: unknown) => [...((previous as string[]) ?? []), value]);
  if (option.attributeName() !== key) {
    throw new Error(`option table key "${key}" does not match flag "${spec.flags}"`);
  }
  if (spec.defaultValue !== undefined) option.default(spec.defaultValue);
  if (spec.presetValue !== undefined) option.preset(spec.presetValue);
  return option;
}

/** Declares every option of `table` on `command`, flag and environment twin. */
export function addOptions(command: Command, table: OptionTable): Command {
  for (const [key, spec] of Object.entries(table)) command.addOption(toOption(key, spec));
  return command;
}

/**
 * Validates what commander parsed for `command` (flag, else environment, else
 * default) against `table`, and returns the typed configuration.
 * @throws ConfigError naming each offending flag and its environment variable.
 */
export function readConfig<T extends OptionTable>(table: T, command: Command): ConfigOf<T> {
  const shape = Object.fromEntries(Object.entries(table).map(([key, spec]) => [key, spec.schema]));
  const result = z.object(shape).safeParse(command.opts());
  if (result.success) return result.data as ConfigOf<T>;
  throw new ConfigError(result.error.issues.map((issue) => describeIssue(table, issue)));
}

function describeIssue(table: OptionTable, issue: z.core.$ZodIssue): string {
  const key = issue.path[0];
  const spec = typeof key === 'string' ? table[key] : undefined;
  if (spec === undefined) return issue.message;
  const flag = new Option(spec.flags).long ?? spec.flags;
  return `invalid ${flag}${spec.env ? ` (${spec.env})` : ''}: ${issue.message}`;
}
