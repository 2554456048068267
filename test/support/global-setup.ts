// Starts one control plane for the whole integration run; every suite works
// in namespaces of its own. A missing binary or a control plane that does not
// come up fails the run: these tests never skip.
import { ControlPlane } from './control-plane.ts';

export default async function globalSetup(): Promise<void> {
  const plane = await ControlPlane.start();
  const version = await plane.version();
  process.stdout.write(
    `\ntest control plane: kube-apiserver ${version.gitVersion} (${version.platform}) at ${plane.server}\n`,
  );
  // Jest workers inherit the environment; globalTeardown shares globalThis.
  process.env.COURIER_TEST_KUBECONFIG = plane.kubeconfigPath;
  process.env.COURIER_TEST_BIN_DIR = plane.binDir;
  process.env.COURIER_TEST_ETCD_URL = plane.etcdUrl;
  process.env.COURIER_TEST_LOG_DIR = plane.workDir;
  (globalThis as { courierControlPlane?: ControlPlane }).courierControlPlane = plane;
}
