// The CRDs and the controllers against generated objects on the real test
// apiserver (test/support/arbitraries/courier-crds.ts: from crds/, fitting
// and nonsense). The bulk goes through server-side dry run: every object is
// accepted, or refused with 400/422 and a message — never another status.
// A smaller sample is created for real, with a real `courier manager`
// watching the namespace (moto as STS): every accepted object ends with a
// Ready condition for its generation, and the manager neither logs an error
// nor exits. Case counts and replay: docs/fuzzing.md.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Agent, fetch } from 'undici';
import { API_VERSION, GROUP, SCAN_SCHEDULES, TOOL_CONNECTIONS, VERSION } from '../../src/api/v1alpha1/index.ts';
import { scanSchedule, toolConnection } from '../support/arbitraries/courier-crds.ts';
import { dnsLabel, hostileString } from '../support/arbitraries/json.ts';
import { fuzzParameters, fuzzRuns, fuzzTimeout, scaledRuns } from '../support/arbitraries/runs.ts';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';
import { MANAGER_EPHEMERAL, RunningComponent } from '../support/component.ts';
import { motoIdentityEnv, writeMotoStsConfig } from '../support/courier-setup.ts';
import { startMoto, type MotoPeer } from '../support/peers.ts';
import { eventually } from '../support/wait.ts';

const DRY_RUNS = fuzzRuns();
/** Objects sent at once: the apiserver answers several dry runs in parallel (2 cores: ~1.5 ms each, ~4 ms one by one). */
const BATCH = 16;
/** Creations tried per kind; about two in five are accepted and reconciled. */
const SAMPLE = scaledRuns(250);
/** The ToolConnection most generated schedules name; it becomes Ready before they are created. */
const READY_CONNECTION = 'prod';

const KINDS = {
  ToolConnection: { plural: TOOL_CONNECTIONS.plural, arbitrary: () => toolConnection() },
  ScanSchedule: {
    plural: SCAN_SCHEDULES.plural,
    arbitrary: () => scanSchedule({ readyConnections: [READY_CONNECTION] }),
  },
} as const;
type Kind = keyof typeof KINDS;
type Json = Record<string, any>;

let moto: MotoPeer;
let tenant: string;
let courierNamespace: string;
let manager: RunningComponent | undefined;
let apiserver: { server: string; agent: Agent };
let serial = 0;

beforeAll(async () => {
  const kc = testKubeConfig();
  const cluster = kc.getCurrentCluster()!;
  const user = kc.getCurrentUser()!;
  const pem = (data: string | undefined) => Buffer.from(data!, 'base64').toString();
  // Kept-alive TLS connections: client-node opens one per request, which would cost more than the dry run.
  apiserver = {
    server: cluster.server,
    agent: new Agent({
      connect: { ca: pem(cluster.caData), cert: pem(user.certData), key: pem(user.keyData) },
      connections: BATCH,
    }),
  };
  moto = await startMoto();
  tenant = await createTestNamespace('fuzz');
  courierNamespace = await createTestNamespace('courier');
}, 60_000);

afterAll(async () => {
  manager?.child.kill('SIGKILL');
  await apiserver?.agent.close();
  await moto?.stop();
});

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${apiserver.server}${url}`, {
    method,
    dispatcher: apiserver.agent,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    parsed = { message: text };
  }
  return { status: response.status, body: parsed };
}

type Outcome = { accepted: true; object: Json } | { accepted: false; status: number; message: string };

/** Creates `object` under a fresh name (as a dry run, nothing stays), with strict field validation as kubectl uses. */
async function create(kind: Kind, object: { metadata: Json }, dryRun: boolean): Promise<Outcome> {
  const body = { ...object, metadata: { ...object.metadata, name: `fz-${++serial}` } };
  const query = `fieldValidation=Strict${dryRun ? '&dryRun=All' : ''}`;
  const answer = await call(
    'POST',
    `/apis/${GROUP}/${VERSION}/namespaces/${tenant}/${KINDS[kind].plural}?${query}`,
    body,
  );
  if (answer.status === 201) return { accepted: true, object: answer.body };
  return { accepted: false, status: answer.status, message: String(answer.body.message ?? '') };
}

/** 422 for a value the schema or a CEL rule refuses, 400 for one that does not decode (strict: an unknown field). */
function checkOutcome(object: unknown, outcome: Outcome): void {
  if (outcome.accepted) return;
  if ((outcome.status !== 400 && outcome.status !== 422) || !/\S/.test(outcome.message)) {
    throw new Error(
      `refused with ${outcome.status} (${JSON.stringify(outcome.message)}), not 400 or 422 with a message: ${JSON.stringify(object)}`,
    );
  }
}

describe.each(Object.keys(KINDS) as Kind[])('%s CRD, on generated objects', (kind) => {
  it(
    'server-side dry run: each is accepted, or refused with 400/422 and a message',
    async () => {
      let accepted = 0;
      let sent = 0;
      // Batches of objects sent together; a failure names the object.
      const batches = fc.array(KINDS[kind].arbitrary(), { minLength: BATCH, maxLength: BATCH });
      await fc.assert(
        fc.asyncProperty(batches, async (batch) => {
          const outcomes = await Promise.all(batch.map((object) => create(kind, object, true)));
          outcomes.forEach((outcome, i) => checkOutcome(batch[i], outcome));
          sent += batch.length;
          accepted += outcomes.filter((outcome) => outcome.accepted).length;
        }),
        fuzzParameters(Math.ceil(DRY_RUNS / BATCH)),
      );
      expect(sent).toBeGreaterThanOrEqual(DRY_RUNS);
      // Both sides of the schema are exercised, not just one.
      expect(accepted / sent).toBeGreaterThan(0.15);
      expect(accepted / sent).toBeLessThan(0.85);
    },
    fuzzTimeout(DRY_RUNS, 3),
  );
});

/** The source Secret a created ToolConnection may find: fitting fields for its kind, or anything. */
const sourceData: fc.Arbitrary<Record<string, string> | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 2 },
  { arbitrary: fc.record({ username: dnsLabel(), password: fc.string({ minLength: 1, maxLength: 30 }) }), weight: 2 },
  {
    arbitrary: fc.record({
      accessKeyId: fc.stringMatching(/^AKIA[A-Z0-9]{16}$/),
      secretAccessKey: fc.string({ minLength: 1, maxLength: 40 }),
    }),
    weight: 2,
  },
  { arbitrary: fc.dictionary(hostileString(), hostileString(), { maxKeys: 3 }), weight: 1 },
);

type Created = { kind: Kind; name: string; object: Json };

function readyCondition(object: Json | undefined): Json | undefined {
  return (object?.status?.conditions as Json[] | undefined)?.find((c) => c.type === 'Ready');
}

/** Whether the manager has reconciled the object's current generation. */
function settled(object: Json | undefined): boolean {
  return readyCondition(object)?.observedGeneration === object?.metadata?.generation;
}

async function startManager(): Promise<void> {
  const configFile = await writeMotoStsConfig(await mkdtemp(path.join(os.tmpdir(), 'courier-fuzz-')), moto);
  manager = new RunningComponent(
    [
      'manager',
      ...MANAGER_EPHEMERAL,
      '--kubeconfig',
      process.env.COURIER_TEST_KUBECONFIG!,
      '--namespace',
      courierNamespace,
      '--watch-namespace',
      tenant,
      '--config',
      configFile,
    ],
    motoIdentityEnv(moto),
  );
  const ready = await call('POST', `/apis/${GROUP}/${VERSION}/namespaces/${tenant}/${TOOL_CONNECTIONS.plural}`, {
    apiVersion: API_VERSION,
    kind: TOOL_CONNECTIONS.kind,
    metadata: { name: READY_CONNECTION },
    spec: { provider: 'aws', aws: { authMethod: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/ScanRole' } },
  });
  expect(ready.status).toBe(201);
  await eventually(
    () => call('GET', `/apis/${GROUP}/${VERSION}/namespaces/${tenant}/${TOOL_CONNECTIONS.plural}/${READY_CONNECTION}`),
    (answer) => readyCondition(answer.body)?.status === 'True',
    60_000,
    `ToolConnection ${READY_CONNECTION} Ready`,
  );
}

describe('accepted objects, created for real, with a manager watching', () => {
  it(
    'each ends with a Ready condition for its generation; the manager logs no error and keeps running',
    async () => {
      await startManager();
      const created: Created[] = [];
      const cases = fc.oneof(
        fc.record({
          kind: fc.constant<Kind>('ToolConnection'),
          // The configured store, or one that is not: that one must end with Stored False (UnknownStore).
          object: toolConnection({ stores: ['kubernetes', 'not-configured'] }),
          source: sourceData,
        }),
        fc.record({
          kind: fc.constant<Kind>('ScanSchedule'),
          // Some job templates the Job API refuses: their runs end as RunSkipped (InvalidJobTemplate).
          object: scanSchedule({ readyConnections: [READY_CONNECTION] }),
          source: fc.constant(undefined),
        }),
      );
      const run = await fc.check(
        fc.asyncProperty(cases, async ({ kind, object, source }) => {
          const outcome = await create(kind, object, false);
          checkOutcome(object, outcome);
          if (!outcome.accepted) return;
          created.push({ kind, name: outcome.object.metadata.name, object: outcome.object });
          const secretName = outcome.object.spec?.credentialsSecretRef?.name;
          if (source && typeof secretName === 'string') {
            // May be refused (a key Kubernetes does not take): the ToolConnection then finds no source.
            await call('POST', `/api/v1/namespaces/${tenant}/secrets`, {
              apiVersion: 'v1',
              kind: 'Secret',
              metadata: { name: secretName },
              stringData: source,
            });
          }
        }),
        fuzzParameters(2 * SAMPLE),
      );
      if (run.failed) throw new Error(fc.defaultReportMessage(run));
      expect(created.length).toBeGreaterThan(SAMPLE / 2);

      const latest = async ({ kind, name }: Created) =>
        (await call('GET', `/apis/${GROUP}/${VERSION}/namespaces/${tenant}/${KINDS[kind].plural}/${name}`)).body;
      const deadline = Date.now() + 120_000;
      let pending = created;
      while (pending.length > 0 && Date.now() < deadline) {
        const states = await Promise.all(pending.map(latest));
        pending = pending.filter((_, i) => !settled(states[i]));
        if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const failures = manager!.records.filter((r) => r.level === 'error' || r.level === 'fatal');
      if (pending.length > 0 || failures.length > 0) {
        const unsettled = await Promise.all(pending.slice(0, 5).map(async (c) => ({ ...c, now: await latest(c) })));
        const retries = manager!.records.filter((r) => r.msg === 'reconcile failed; retrying with backoff').slice(0, 5);
        throw new Error(
          `${pending.length} of ${created.length} objects have no Ready condition for their generation, ` +
            `${failures.length} error lines (replay: COURIER_FUZZ_SEED=${run.seed}).\n` +
            `unsettled: ${JSON.stringify(unsettled.map((u) => ({ kind: u.kind, spec: u.now.spec, status: u.now.status, annotations: u.now.metadata?.annotations })))}\n` +
            `errors: ${JSON.stringify(failures.slice(0, 5))}\nretries: ${JSON.stringify(retries)}`,
        );
      }
      expect(manager!.child.exitCode).toBeNull();
    },
    fuzzTimeout(2 * SAMPLE, 100) + 180_000,
  );
});
