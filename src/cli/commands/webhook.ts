import type { Command } from 'commander';
import { formatBindAddress } from '../../config/bind-address.ts';
import { webhookOptions } from '../../config/commands.ts';
import { readConfig } from '../../config/options.ts';
import type { CommandDefinition } from '../program.ts';
import { runComponent } from './component-process.ts';

export const webhookCommand: CommandDefinition = {
  name: 'webhook',
  description: 'run the admission webhook that injects credentials into scan pods',
  helpGroup: 'Cluster components:',
  options: webhookOptions,
  run: (command: Command) => {
    const config = readConfig(webhookOptions, command);
    return runComponent('webhook', config, async ({ logger }) => {
      logger.info(
        { webhookBindAddress: formatBindAddress(config.webhookBindAddress) },
        'admission handling is not implemented yet; serving metrics and health probes only',
      );
    });
  },
};
