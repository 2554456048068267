/** Process exit codes, shared by the lifecycle and the CLI. */
export const ExitCode = {
  ok: 0,
  /** Something failed at run time, or shutdown was not clean. */
  failure: 1,
  /** The command line or environment was unusable; nothing was started. */
  usage: 2,
} as const;
