// The commands people run from a workstation (also as `kubectl courier …`).
// None is built yet; each names the feature it arrives with.
import type { CommandDefinition } from '../program.ts';
import { notImplementedYet } from './not-implemented.ts';

const HELP_GROUP = 'Commands:';

export const peopleCommands: readonly CommandDefinition[] = [
  {
    name: 'connect',
    description: 'set up a Connection to a system scan jobs need credentials for',
    helpGroup: HELP_GROUP,
    run: notImplementedYet('the Connection API'),
  },
  {
    name: 'run',
    description: 'run a scan job with credentials injected',
    helpGroup: HELP_GROUP,
    run: notImplementedYet('admission-time credential injection'),
  },
  {
    name: 'status',
    description: 'show Connections and the state of their credentials',
    helpGroup: HELP_GROUP,
    run: notImplementedYet('the Connection API'),
  },
  {
    name: 'doctor',
    description: 'check a Courier installation for common problems',
    helpGroup: HELP_GROUP,
    run: notImplementedYet('installation diagnostics'),
  },
  {
    name: 'rotate-keys',
    description: "rotate the broker's signing keys",
    helpGroup: HELP_GROUP,
    run: notImplementedYet('broker key management'),
  },
];
