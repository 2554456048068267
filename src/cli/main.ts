#!/usr/bin/env node
import { agentCommand } from './commands/agent.ts';
import { managerCommand } from './commands/manager.ts';
import { peopleCommands } from './commands/people.ts';
import { rotateKeysCommand } from './commands/rotate-keys.ts';
import { webhookCommand } from './commands/webhook.ts';
import { runCli } from './program.ts';

const courier = {
  name: 'courier',
  description: 'Kubernetes operator and admission-time credential injector for scan jobs',
  commands: [managerCommand, webhookCommand, agentCommand, rotateKeysCommand, ...peopleCommands],
};

process.exit(await runCli(courier, process.argv));
