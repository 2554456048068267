import { agentOptions } from '../../config/commands.ts';
import type { CommandDefinition } from '../program.ts';
import { notImplementedYet } from './not-implemented.ts';

// The options are declared now so `courier agent --help` documents the
// contract the webhook will inject into scan pods.
export const agentCommand: CommandDefinition = {
  name: 'agent',
  description: 'fetch credentials for a scan pod from the broker (init container or sidecar)',
  helpGroup: 'Cluster components:',
  options: agentOptions,
  run: notImplementedYet('the credential broker'),
};
