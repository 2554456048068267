// How a people command reaches the cluster (kubeconfig and context as kubectl
// picks them, the namespace to work in) and how it fails: one readable line
// and exit 1, never a stack trace or a response body with headers.
import { ApiException, type KubeConfig } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { ConfigError } from '../../config/errors.ts';
import type { ClusterConfig } from '../../config/people-commands.ts';
import { loadKubeConfig } from '../../kube/kubeconfig.ts';
import { ExitCode } from '../../runtime/exit-codes.ts';
import { printProblem } from '../program.ts';

export interface Cluster {
  kubeConfig: KubeConfig;
  /** -n, else the context's namespace, else "default". */
  namespace: string;
}

export function connectToCluster(
  config: Pick<ClusterConfig, 'kubeconfig' | 'context'> & { namespace?: string },
): Cluster {
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = loadKubeConfig(config.kubeconfig, config.context);
  } catch (error) {
    // A kubeconfig that names nothing usable is the command line's fault.
    throw new ConfigError([(error as Error).message]);
  }
  const contextNamespace = kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace;
  return { kubeConfig, namespace: config.namespace ?? contextNamespace ?? 'default' };
}

/** The command ran and did not get what it wanted: exit 1 with this message. */
export class CommandFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandFailed';
  }
}

export function isApiError(error: unknown, code: number): boolean {
  return error instanceof ApiException && error.code === code;
}

/** The apiserver's own message for a failed request ("HTTP 403: … is forbidden: …"), or the error's. */
export function describeError(error: unknown): string {
  if (error instanceof ApiException) {
    let message: unknown;
    try {
      const body: unknown = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
      message = (body as { message?: unknown } | undefined)?.message;
    } catch {
      message = undefined;
    }
    return typeof message === 'string' && message !== '' ? message : `the API server answered HTTP ${error.code}`;
  }
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  // The exec API's WebSocket rejects with an ErrorEvent, which is no Error but has a message.
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

/** "kubectl courier" or "courier": the root of the command tree, for messages. */
export function programName(command: Command): string {
  let root = command;
  while (root.parent) root = root.parent;
  return root.name();
}

/**
 * Runs a people command: usage problems (ConfigError) go on to the CLI's
 * exit 2; anything else that fails is printed as one line, exit 1.
 */
export function failuresToExitCode(run: (command: Command) => Promise<number>): (command: Command) => Promise<number> {
  return async (command) => {
    try {
      return await run(command);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      printProblem(programName(command), describeError(error));
      return ExitCode.failure;
    }
  };
}
