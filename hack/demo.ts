// The main job on its embedded defaults, for a person to watch: a local
// control plane, Courier's CRDs and samples, moto standing in for AWS STS (so
// no cloud account is needed and nothing leaves the machine), and
// `courier manager` with the `kubernetes` store and a generated local KEK.
// Ctrl-C stops everything (or pass --once to stop by itself).
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { ControlPlane } from '../test/support/control-plane.ts';
import { REPO_ROOT } from '../test/support/binaries.ts';
import { startMoto } from '../test/support/peers.ts';
import { freePort } from '../test/support/ports.ts';

const once = process.argv.includes('--once');
const say = (text: string) => process.stdout.write(`\n== ${text}\n`);

say('starting a local control plane (etcd, kube-apiserver, kube-controller-manager) and moto as AWS STS');
const [plane, moto] = await Promise.all([ControlPlane.start({ controllerManager: true }), startMoto()]);
say(`kube-apiserver ${(await plane.version()).gitVersion} at ${plane.server}; KUBECONFIG=${plane.kubeconfigPath}`);

await plane.kubectl(['create', 'namespace', 'courier-system']);
await plane.kubectl(['create', 'namespace', 'demo']);
say('applying config/samples to namespace demo');
process.stdout.write(
  (await plane.kubectl(['apply', '-n', 'demo', '-f', path.join(REPO_ROOT, 'config/samples')])).stdout + '\n',
);

// The embedded store and KEK; only STS points at moto instead of AWS.
const configFile = path.join(plane.workDir, 'courier.yaml');
await writeFile(
  configFile,
  stringify({
    stores: [{ name: 'kubernetes', type: 'kubernetes' }],
    defaultStore: 'kubernetes',
    aws: { stsEndpoint: moto.endpoint },
  }),
);
const healthPort = await freePort();
say('running courier manager (logs below)');
const manager = spawn(
  process.execPath,
  [
    path.join(REPO_ROOT, 'src/cli/main.ts'),
    'manager',
    `--kubeconfig=${plane.kubeconfigPath}`,
    '--namespace=courier-system',
    `--config=${configFile}`,
    `--health-probe-bind-address=127.0.0.1:${healthPort}`,
    `--metrics-bind-address=127.0.0.1:${await freePort()}`,
    `--broker-bind-address=127.0.0.1:${await freePort()}`,
    '--tls-extra-sans=localhost,127.0.0.1',
  ],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
    // The manager's own AWS identity, for AssumeRole: moto's test credentials.
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
    },
  },
);
createInterface({ input: manager.stdout! }).on('line', (line) => process.stdout.write(`  manager | ${line}\n`));
const managerExit = new Promise<number | null>((resolve) => manager.once('exit', resolve));

for (let i = 0; i < 100; i++) {
  if (
    await fetch(`http://127.0.0.1:${healthPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    )
  )
    break;
  await sleep(200);
}
say(
  `manager readiness: ${await fetch(`http://127.0.0.1:${healthPort}/readyz?verbose`).then(
    (r) => r.text(),
    (e) => String(e),
  )}`,
);
await plane.kubectl(['wait', '-n', 'demo', 'tc', '--all', '--for=condition=Ready', '--timeout=60s'], { reject: false });
say('kubectl get tc,ss -n demo -o wide: each credential stored, fingerprinted and validated');
process.stdout.write((await plane.kubectl(['get', 'tc,ss', '-n', 'demo', '-o', 'wide'])).stdout + '\n');
say('the source Secrets are gone (ingested); what is left in namespace demo:');
process.stdout.write((await plane.kubectl(['get', 'secrets', '-n', 'demo'], { reject: false })).stdout + '\n');
say("Courier's own namespace holds only ciphertext and wrapped keys:");
process.stdout.write((await plane.kubectl(['get', 'secrets,configmaps', '-n', 'courier-system'])).stdout + '\n');

const stop = async () => {
  say('stopping');
  manager.kill('SIGTERM');
  const code = await managerExit;
  await Promise.all([plane.stop(), moto.stop()]);
  process.stdout.write(`manager exited with code ${code}\n`);
  process.exit(code ?? 1);
};
if (once) await stop();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
say(`running; KUBECONFIG=${plane.kubeconfigPath} kubectl get courier -A, Ctrl-C to stop`);
