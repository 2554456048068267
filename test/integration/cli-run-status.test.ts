// `kubectl courier run` and `status` against the shared apiserver with a real
// `courier manager`: run sets a fresh run-now token and, with --wait, prints
// the Job the controller created (so its idea of the Job's name is the
// controller's) or why the run was skipped; status shows both kinds as the
// controller left them, as tables or as a List.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BatchV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { RUN_NOW_ANNOTATION, type ScanSchedule } from '../../src/api/v1alpha1/index.ts';
import { createTestNamespace, kubectl, testKubeConfig } from '../support/cluster.ts';
import { runPlugin } from '../support/cli.ts';
import { MANAGER_EPHEMERAL, RunningComponent } from '../support/component.ts';
import { eventually } from '../support/wait.ts';

let manager: RunningComponent;
let tenant: string;
let base: string[];

const schedule = (name: string, connection: string) => ({
  apiVersion: 'courier.dev/v1alpha1',
  kind: 'ScanSchedule',
  metadata: { name },
  spec: {
    schedule: '0 3 * * *',
    timeZone: 'Europe/Berlin',
    connections: [{ name: connection }],
    jobTemplate: {
      spec: {
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'scan', image: 'scanner:1' }] } },
      },
    },
  },
});

const readSchedule = async (name: string) =>
  (await testKubeConfig().makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: 'courier.dev',
    version: 'v1alpha1',
    plural: 'scanschedules',
    namespace: tenant,
    name,
  })) as ScanSchedule;

beforeAll(async () => {
  const courierNamespace = await createTestNamespace('courier');
  tenant = await createTestNamespace('team');
  const kubeconfig = process.env.COURIER_TEST_KUBECONFIG!;
  base = ['--kubeconfig', kubeconfig, '-n', tenant];
  manager = new RunningComponent([
    'manager',
    ...MANAGER_EPHEMERAL,
    '--kubeconfig',
    kubeconfig,
    '--namespace',
    courierNamespace,
    '--watch-namespace',
    tenant,
  ]);
  const manifests = [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db-src' },
      stringData: { username: 'u', password: 'pw-run-status' },
    },
    {
      apiVersion: 'courier.dev/v1alpha1',
      kind: 'ToolConnection',
      metadata: { name: 'db' },
      spec: { provider: 'generic', generic: { purpose: 'database' }, credentialsSecretRef: { name: 'db-src' } },
    },
    schedule('nightly', 'db'),
    schedule('blocked', 'missing'),
  ];
  const apply = await kubectl(['apply', '-n', tenant, '-f', '-'], {
    input: manifests.map((m) => stringify(m)).join('---\n'),
  });
  expect(apply.exitCode).toBe(0);
  const ready = await kubectl([
    'wait',
    '-n',
    tenant,
    'tc/db',
    'ss/nightly',
    'ss/blocked',
    '--for=condition=Ready',
    '--timeout=60s',
  ]);
  expect(ready.exitCode).toBe(0);
}, 90_000);

afterAll(() => {
  manager?.child.kill('SIGKILL');
});

describe('kubectl courier run', () => {
  it('sets a fresh run-now token and, with --wait, prints the Job the controller created', async () => {
    const { code, stdout, stderr } = await runPlugin(['run', 'nightly', '--wait', ...base]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: 'waiting up to 120s for the controller to start the run…\n' });
    const [requested, job] = stdout.trimEnd().split('\n');
    const token = /^scanschedule\.courier\.dev\/nightly run requested \(courier\.dev\/run-now=(\S+)\)$/.exec(
      requested!,
    )?.[1];
    expect(token).toBeDefined();
    expect((await readSchedule('nightly')).metadata.annotations?.[RUN_NOW_ANNOTATION]).toBe(token);
    const jobName = /^job\.batch\/(nightly-now-[0-9a-f]{10})$/.exec(job!)?.[1];
    expect(jobName).toBeDefined();
    const created = await testKubeConfig()
      .makeApiClient(BatchV1Api)
      .readNamespacedJob({ name: jobName!, namespace: tenant });
    expect(created.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'ScanSchedule', name: 'nightly' });
  });

  it('asks again with a new token each time, without waiting unless told to', async () => {
    const first = await runPlugin(['run', 'nightly', ...base]);
    const second = await runPlugin(['run', 'nightly', ...base]);
    expect([first.code, second.code]).toEqual([0, 0]);
    expect(first.stdout).not.toBe(second.stdout);
    const token = /run-now=(\S+)\)/.exec(second.stdout)![1];
    await eventually(
      () => readSchedule('nightly'),
      (ss) => ss.status?.lastRunNowToken === token,
      30_000,
      'the controller to take the second token',
    );
  });

  it('fails with the reason when the controller skips the run', async () => {
    const { code, stderr } = await runPlugin(['run', 'blocked', '--wait', ...base]);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /kubectl courier: the run was skipped: ConnectionNotReady: run blocked-now-[0-9a-f]{10} skipped: ToolConnection missing missing or not Ready\n$/,
    );
  });

  it('says so when the schedule does not exist', async () => {
    const { code, stderr } = await runPlugin(['run', 'nowhere', ...base]);
    expect(code).toBe(1);
    expect(stderr).toBe(`kubectl courier: ScanSchedule nowhere not found in namespace ${tenant}\n`);
  });
});

describe('kubectl courier status', () => {
  it('shows both kinds as tables, and the skipped run with its message', async () => {
    const { code, stdout } = await runPlugin(['status', ...base]);
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^TOOLCONNECTION +PROVIDER +STORE +READY +REASON +ISSUED +LAST ISSUED +AGE$/);
    expect(lines[1]).toMatch(/^db +generic\/database +kubernetes +True +Ready +0 +<never> +\d+s$/);
    expect(stdout).toMatch(
      /^SCANSCHEDULE +SCHEDULE +SUSPEND +READY +ACTIVE +LAST SCHEDULE +LAST SUCCESS +NEXT RUN +AGE$/m,
    );
    expect(stdout).toMatch(
      /^blocked +0 3 \* \* \* Europe\/Berlin +False +True +0 +<never> +<never> +in \d+h\S* +\d+s$/m,
    );
    // No job controller runs here, so the run-now Jobs stay active; they are not scheduled runs.
    expect(stdout).toMatch(
      /^nightly +0 3 \* \* \* Europe\/Berlin +False +True +[1-9] +<never> +<never> +in \d+h\S* +\d+s$/m,
    );
    expect(stdout).toMatch(
      /^scanschedule\/blocked: RunSkipped=True \(ConnectionNotReady\): run blocked-now-\S+ skipped: ToolConnection missing missing or not Ready$/m,
    );
  });

  it('prints the objects as one List with -o json and -o yaml', async () => {
    const json = await runPlugin(['status', '-o', 'json', ...base]);
    const yaml = await runPlugin(['status', '-o', 'yaml', ...base]);
    const list = JSON.parse(json.stdout) as {
      kind: string;
      items: Array<{ kind: string; metadata: { name: string } }>;
    };
    expect(list.kind).toBe('List');
    expect(list.items.map((i) => `${i.kind}/${i.metadata.name}`)).toEqual([
      'ToolConnection/db',
      'ScanSchedule/blocked',
      'ScanSchedule/nightly',
    ]);
    expect((parse(yaml.stdout) as typeof list).items.map((i) => i.metadata.name)).toEqual(['db', 'blocked', 'nightly']);
  });

  it('adds the namespace with -A', async () => {
    const { code, stdout } = await runPlugin(['status', '-A', '--kubeconfig', process.env.COURIER_TEST_KUBECONFIG!]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^NAMESPACE +TOOLCONNECTION /);
    expect(stdout).toMatch(new RegExp(`^${tenant} +db +generic/database `, 'm'));
  });
});
