// `courier agent`: the container the webhook adds to a scan pod. It fetches
// the pod's credentials from the broker and writes them into the in-memory
// credentials volume: once, as an init container, or kept fresh until
// SIGTERM, as a native sidecar. It binds no port and serves no metrics: a
// scan pod's network exposure stays what its author declared.
import type { Command } from 'commander';
import { BrokerClient } from '../../agent/broker-client.ts';
import { runAgent } from '../../agent/agent.ts';
import type { FileMode } from '../../agent/files.ts';
import { agentOptions } from '../../config/commands.ts';
import { ConfigError } from '../../config/errors.ts';
import { readConfig } from '../../config/options.ts';
import { createLogger } from '../../log/logger.ts';
import { Lifecycle } from '../../runtime/lifecycle.ts';

/** Runs `courier agent`; its flags are in ./components.ts. */
export async function run(command: Command): Promise<number> {
  const config = readConfig(agentOptions, command);
  if (new URL(config.brokerUrl).protocol !== 'https:') {
    // The agent sends the pod's token and receives credentials: never in the clear.
    throw new ConfigError([`invalid --broker-url (COURIER_BROKER_URL): must be https, got ${config.brokerUrl}`]);
  }
  const logger = createLogger({ level: config.logLevel, component: 'agent' });
  // No shutdown hooks: aborting lifecycle.signal stops every timer and
  // request, which is all the agent has to release.
  const lifecycle = new Lifecycle({
    shutdownTimeoutMs: config.shutdownTimeout,
    logger,
    signals: process,
    forceExit: (code) => process.exit(code),
  });
  logger.info({ config }, 'starting agent');
  const source = new BrokerClient({
    brokerUrl: config.brokerUrl,
    tokenFile: config.tokenFile,
    caFile: config.caFile,
    requestTimeoutMs: config.requestTimeout,
  });
  const exitCode = await runAgent(
    {
      mode: config.mode,
      connections: config.connections,
      outputDir: config.outputDir,
      fileMode: Number.parseInt(config.fileMode, 8) as FileMode,
      retryTimeoutMs: config.retryTimeout,
    },
    { source, logger, signal: lifecycle.signal },
  );
  // After a signal, let the lifecycle finish its (short) shutdown log.
  if (lifecycle.signal.aborted) await lifecycle.done();
  logger.info({ exitCode }, 'agent exiting');
  return exitCode;
}
