// The cluster components' commands as the CLI lists them. Each one's work
// (and what it imports: the Kubernetes client, cloud SDKs, express) is
// loaded only when that command runs, so the agent — started in every scan
// pod — and --help start quickly and small.
import type { Command } from 'commander';
import { agentOptions, managerOptions, rotateKeysOptions, webhookOptions } from '../../config/commands.ts';
import type { CommandDefinition } from '../program.ts';

type Runner = { run(command: Command): Promise<number> };
const lazy = (load: () => Promise<Runner>) => async (command: Command) => (await load()).run(command);

export const managerCommand: CommandDefinition = {
  name: 'manager',
  description: 'run the operator that reconciles Courier resources',
  helpGroup: 'Cluster components:',
  options: managerOptions,
  run: lazy(() => import('./manager.ts')),
};

export const webhookCommand: CommandDefinition = {
  name: 'webhook',
  description: 'run the admission webhook that injects credentials into scan pods',
  helpGroup: 'Cluster components:',
  options: webhookOptions,
  run: lazy(() => import('./webhook.ts')),
};

export const agentCommand: CommandDefinition = {
  name: 'agent',
  description: 'fetch credentials for a scan pod from the broker (init container or sidecar)',
  helpGroup: 'Cluster components:',
  options: agentOptions,
  run: lazy(() => import('./agent.ts')),
};

export const rotateKeysCommand: CommandDefinition = {
  name: 'rotate-keys',
  description: "rotate the key-encryption key or tenants' data keys, re-encrypting what they protect",
  helpGroup: 'Operations:',
  options: rotateKeysOptions,
  run: lazy(() => import('./rotate-keys.ts')),
};
