#!/usr/bin/env node
import { agentCommand, managerCommand, rotateKeysCommand, webhookCommand } from './commands/components.ts';
import { peopleCommands } from './commands/people.ts';
import { runCli } from './program.ts';

const courier = {
  name: 'courier',
  description: 'Kubernetes operator and admission-time credential injector for scan jobs',
  commands: [managerCommand, webhookCommand, agentCommand, rotateKeysCommand, ...peopleCommands],
};

process.exit(await runCli(courier, process.argv));
