// What an integration suite uses to reach the shared test control plane.
import { randomBytes } from 'node:crypto';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { runKubectl, type KubectlOptions, type KubectlResult } from './control-plane.ts';

function required(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(
      `${name} is not set: integration tests run under jest's integration project, whose globalSetup starts the control plane`,
    );
  return value;
}

export function testKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(required('COURIER_TEST_KUBECONFIG'));
  return kc;
}

export function kubectl(args: string[], options: KubectlOptions = {}): Promise<KubectlResult> {
  return runKubectl(required('COURIER_TEST_BIN_DIR'), required('COURIER_TEST_KUBECONFIG'), args, options);
}

/** Creates a namespace with a unique name for one suite. */
export async function createTestNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await testKubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name } } });
  return name;
}
