// The commands people run from a workstation (also as `kubectl courier …`).
// Their work is in ../people/; this file wires flags and arguments to it.
import type { Command } from 'commander';
import { ConfigError } from '../../config/errors.ts';
import { readConfig } from '../../config/options.ts';
import {
  connectAwsOptions,
  connectGenericOptions,
  doctorOptions,
  kubectlRotateKeysOptions,
  runOptions,
  statusOptions,
} from '../../config/people-commands.ts';
import type { CommandDefinition } from '../program.ts';
import { processTerminal } from '../people/prompt.ts';

const HELP_GROUP = 'Commands:';

/**
 * A command's work, loaded when the command runs: the Kubernetes client and
 * the rest are not loaded for another command, or for --help.
 */
function lazy<M>(load: () => Promise<M>, work: (module: M, command: Command) => Promise<number>) {
  return async (command: Command): Promise<number> => {
    const [module, { failuresToExitCode }] = await Promise.all([load(), import('../people/cluster.ts')]);
    return failuresToExitCode((c) => work(module, c))(command);
  };
}
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The NAME argument: a Kubernetes object name, or a usage error. */
function objectName(command: Command, what: string): string {
  const name = String(command.processedArgs[0]);
  if (name.length > 253 || !OBJECT_NAME.test(name)) {
    throw new ConfigError([`${JSON.stringify(name)} is not a ${what} name: lower-case letters, digits, "-" and "."`]);
  }
  return name;
}

const connectAwsCommand: CommandDefinition = {
  name: 'aws',
  description: 'an AWS account: assume a role (--role-arn), or store an access key read without echo',
  helpGroup: HELP_GROUP,
  arguments: ['<name>'],
  options: connectAwsOptions,
  run: lazy(
    () => import('../people/connect.ts'),
    ({ connectAws }, command) =>
      connectAws(objectName(command, 'ToolConnection'), readConfig(connectAwsOptions, command), processTerminal()),
  ),
};

const connectGenericCommand: CommandDefinition = {
  name: 'generic',
  description: 'host credentials (ssh, winrm, rdp, http, database, …): fields from prompts, files or stdin',
  helpGroup: HELP_GROUP,
  arguments: ['<name>'],
  options: connectGenericOptions,
  run: lazy(
    () => import('../people/connect.ts'),
    ({ connectGeneric }, command) =>
      connectGeneric(
        objectName(command, 'ToolConnection'),
        readConfig(connectGenericOptions, command),
        processTerminal(),
      ),
  ),
};

export const peopleCommands: readonly CommandDefinition[] = [
  {
    name: 'connect',
    description: 'create or update a ToolConnection; its credential is encrypted on this machine (aws | generic)',
    helpGroup: HELP_GROUP,
    subcommands: [connectAwsCommand, connectGenericCommand],
  },
  {
    name: 'run',
    description: 'run a ScanSchedule now (sets a new courier.dev/run-now token)',
    helpGroup: HELP_GROUP,
    arguments: ['<schedule>'],
    options: runOptions,
    run: lazy(
      () => import('../people/run.ts'),
      ({ runSchedule }, command) =>
        runSchedule(objectName(command, 'ScanSchedule'), readConfig(runOptions, command), processTerminal()),
    ),
  },
  {
    name: 'status',
    description: 'show ToolConnections and ScanSchedules with their conditions',
    helpGroup: HELP_GROUP,
    options: statusOptions,
    run: lazy(
      () => import('../people/status.ts'),
      ({ showStatus }, command) => showStatus(readConfig(statusOptions, command), processTerminal()),
    ),
  },
  {
    name: 'doctor',
    description: 'check the CRDs, the webhook, certificates, store health and the leader; exit 1 on a failure',
    helpGroup: HELP_GROUP,
    options: doctorOptions,
    run: lazy(
      () => import('../people/doctor.ts'),
      ({ runDoctor }, command) => runDoctor(readConfig(doctorOptions, command), processTerminal()),
    ),
  },
];

/** For kubectl: runs `courier rotate-keys` in the leading manager's pod. */
export const kubectlRotateKeys: CommandDefinition = {
  name: 'rotate-keys',
  description: "rotate the key-encryption key or tenants' data keys (runs in the manager pod)",
  helpGroup: HELP_GROUP,
  options: kubectlRotateKeysOptions,
  run: lazy(
    () => import('../people/remote-rotate-keys.ts'),
    ({ rotateKeysInManager }, command) =>
      rotateKeysInManager(readConfig(kubectlRotateKeysOptions, command), processTerminal()),
  ),
};
