/**
 * Configuration the user supplied (flags or environment) is unusable. The
 * message is written for the person starting the process: each line names the
 * flag and its environment variable and says what is wrong, so the CLI prints
 * it as is, without a stack trace.
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
