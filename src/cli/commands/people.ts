// The commands people run from a workstation (also as `kubectl courier …`).
// None is built yet; each names the feature it arrives with.
import type { CommandDefinition } from '../program.ts';
import { notImplementedYet } from './not-implemented.ts';

const HELP_GROUP = 'Commands:';

export const peopleCommands: readonly CommandDefinition[] = [
  {
    name: 'connect',
    description: 'store a credential for a ToolConnection, encrypted on this machine (aws | generic)',
    helpGroup: HELP_GROUP,
    run: notImplementedYet('the kubectl plugin'),
  },
  {
    name: 'run',
    description: 'run a ScanSchedule now (sets courier.dev/run-now)',
    helpGroup: HELP_GROUP,
    run: notImplementedYet('the ScanSchedule controller'),
  },
  {
    name: 'status',
    description: 'show ToolConnections and ScanSchedules with their conditions',
    helpGroup: HELP_GROUP,
    run: notImplementedYet('the kubectl plugin'),
  },
  {
    name: 'doctor',
    description: 'check webhook reachability, certificate expiry, store health and the leader',
    helpGroup: HELP_GROUP,
    run: notImplementedYet('the kubectl plugin'),
  },
];

/** For kubectl: runs `courier rotate-keys` in the manager pod, once the plugin lands. */
export const kubectlRotateKeys: CommandDefinition = {
  name: 'rotate-keys',
  description: "rotate the key-encryption key or tenants' data keys (runs in the manager pod)",
  helpGroup: HELP_GROUP,
  run: notImplementedYet('the kubectl plugin'),
};
