#!/usr/bin/env node
// Entry point as a kubectl plugin: kubectl runs `kubectl-courier status` for
// `kubectl courier status`. Only the commands people run are offered here;
// the cluster components are started by their Deployments, not through kubectl.
import { kubectlRotateKeys, peopleCommands } from './commands/people.ts';
import { runCli } from './program.ts';

const kubectlCourier = {
  name: 'kubectl courier',
  description: 'work with Courier credential injection from kubectl',
  commands: [...peopleCommands, kubectlRotateKeys],
};

process.exit(await runCli(kubectlCourier, process.argv));
