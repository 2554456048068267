import { describe, expect, it } from '@jest/globals';
import type { V1Container, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { CONNECTION_PATHS_ANNOTATION } from '../api/v1alpha1/index.ts';
import { mutate, type Mutation } from './mutate.ts';
import { applyPatch, CONNECTIONS, NAMESPACE, SETTINGS } from './testing/fixtures.ts';

function pod(annotations: Record<string, string>, spec: Partial<V1PodSpec> = {}): V1Pod {
  return {
    metadata: { name: 'scan', labels: { 'courier.dev/inject': 'true' }, annotations },
    spec: { containers: [{ name: 'scanner', image: 'scanner:1' }], ...spec },
  };
}

const run = (subject: V1Pod) =>
  mutate({ pod: subject, namespace: NAMESPACE, connections: CONNECTIONS, settings: SETTINGS });

function mutation(subject: V1Pod): Mutation {
  const result = run(subject);
  if ('denied' in result) throw new Error(`denied: ${result.denied}`);
  return result;
}

function denial(subject: V1Pod): { denied: string; code: number } {
  const result = run(subject);
  if (!('denied' in result)) throw new Error(`allowed with ${JSON.stringify(result.patch)}`);
  return result;
}

function agentArgs(subject: V1Pod): Record<string, string> {
  const agent = applyPatch(subject, mutation(subject).patch).spec!.initContainers!.find(
    (c) => c.name === 'courier-agent',
  )!;
  const args = agent.args!.slice(1);
  return Object.fromEntries(args.flatMap((arg, i) => (i % 2 === 0 ? [[arg.slice(2), args[i + 1]!]] : [])));
}

/** The pod as Courier left it: what the webhook sees when the apiserver calls it again. */
function mutated(annotations: Record<string, string>, spec: Partial<V1PodSpec> = {}): V1Pod {
  const subject = pod(annotations, spec);
  return applyPatch(subject, mutation(subject).patch);
}

const AWS = { 'courier.dev/connections': 'aws-prod' };

describe('which pods', () => {
  it('leaves pods without the opt-in label alone, whatever they hold', () => {
    const subject = pod({ 'courier.dev/connections': 'Not A Name' });
    subject.metadata!.labels = { 'courier.dev/inject': 'false' };
    expect(run(subject)).toEqual({ patch: [], warnings: [] });
    delete subject.metadata!.labels;
    expect(run(subject)).toEqual({ patch: [], warnings: [] });
  });

  it('trims and de-duplicates the connection names, keeping their order', () => {
    expect(agentArgs(pod({ 'courier.dev/connections': ' github ,aws-prod,github' })).connections).toBe(
      'github,aws-prod',
    );
  });
});

describe('the agent mode', () => {
  it('is init when the pod ends before the session credentials do, sidecar otherwise', () => {
    expect(agentArgs(pod(AWS, { activeDeadlineSeconds: 3600 })).mode).toBe('init');
    expect(agentArgs(pod(AWS, { activeDeadlineSeconds: 3601 })).mode).toBe('sidecar');
    expect(agentArgs(pod(AWS)).mode).toBe('sidecar');
  });

  it('follows the shortest session among several connections', () => {
    const both = { 'courier.dev/connections': 'aws-long,aws-prod' };
    expect(agentArgs(pod(both, { activeDeadlineSeconds: 7200 })).mode).toBe('sidecar');
  });

  it('is init for credentials that do not expire, however long the pod runs', () => {
    expect(agentArgs(pod({ 'courier.dev/connections': 'aws-static,github' })).mode).toBe('init');
  });

  it('gives only a sidecar a restart policy and a startup probe', () => {
    const [sidecar] = mutated(AWS).spec!.initContainers!;
    const [init] = mutated(AWS, { activeDeadlineSeconds: 60 }).spec!.initContainers!;
    expect(sidecar).toMatchObject({ restartPolicy: 'Always', startupProbe: expect.anything() });
    expect(init).not.toHaveProperty('restartPolicy');
    expect(init).not.toHaveProperty('startupProbe');
  });
});

describe('the agent uid', () => {
  const uid = (spec: Partial<V1PodSpec>) => mutated(AWS, spec).spec!.initContainers![0]!.securityContext!.runAsUser;
  const scanner = (runAsUser: number): V1Container => ({ name: 'scanner', image: 's', securityContext: { runAsUser } });

  it("is the first container's, else the pod's, and never root", () => {
    expect(uid({ containers: [scanner(1001)], securityContext: { runAsUser: 1000 } })).toBe(1001);
    expect(uid({ securityContext: { runAsUser: 1000 } })).toBe(1000);
    expect(uid({ containers: [scanner(0)], securityContext: { runAsUser: 1000 } })).toBe(65532);
    expect(uid({})).toBe(65532);
  });
});

describe('warnings', () => {
  it('names connections that are not Ready yet, and allows the pod', () => {
    expect(mutation(pod({ 'courier.dev/connections': 'db,github' })).warnings).toEqual([
      'ToolConnection "db" is not Ready yet; the agent waits for it',
    ]);
    expect(mutation(pod(AWS)).warnings).toEqual([]);
  });
});

describe('refusals', () => {
  it.each([
    [
      'no connections annotation',
      {},
      'the pod has label courier.dev/inject=true but no annotation courier.dev/connections; set it to the ToolConnections the pod needs, comma-separated, such as "aws-prod,github"',
    ],
    [
      'an empty connections annotation',
      { 'courier.dev/connections': '' },
      'annotation courier.dev/connections: "" in "" is not a ToolConnection name; expected comma-separated lower-case DNS subdomains such as "aws-prod,github"',
    ],
    [
      'an empty name in the list',
      { 'courier.dev/connections': 'aws-prod,,github' },
      'annotation courier.dev/connections: "" in "aws-prod,,github" is not a ToolConnection name; expected comma-separated lower-case DNS subdomains such as "aws-prod,github"',
    ],
    [
      'an upper-case name',
      { 'courier.dev/connections': 'aws-prod,GitHub' },
      'annotation courier.dev/connections: "GitHub" in "aws-prod,GitHub" is not a ToolConnection name; expected comma-separated lower-case DNS subdomains such as "aws-prod,github"',
    ],
  ])('%s: 400', (_, annotations, message) => {
    expect(denial(pod(annotations))).toEqual({ denied: message, code: 400 });
  });

  const PATHS_EXPECTED =
    'expected a JSON object of ToolConnection name to absolute path, such as {"aws-prod":"/home/scan/.aws"}';
  it.each([
    ['{aws-prod: /x}', '"{aws-prod: /x}" is not JSON'],
    ['["/x"]', '"[\\"/x\\"]" is not a JSON object'],
    ['{"github":"/x"}', 'it names "github", which is not in courier.dev/connections'],
    ['{"aws-prod":5}', 'the path of "aws-prod" is not a string'],
    ['{"aws-prod":"home/.aws"}', 'the path of "aws-prod", "home/.aws", is not absolute'],
    ['{"aws-prod":"/"}', 'the path of "aws-prod", "/", is the root directory'],
    ['{"aws-prod":"/home/../etc"}', 'the path of "aws-prod", "/home/../etc", contains ".."'],
    ['{"aws-prod":"/c:/aws"}', 'the path of "aws-prod", "/c:/aws", contains ":"'],
    [
      '{"aws-prod":"/var/run/courier"}',
      `the path of "aws-prod", "/var/run/courier", is where Courier mounts every connection's credentials`,
    ],
  ])('connection paths %s: 400', (paths, problem) => {
    expect(denial(pod({ ...AWS, [CONNECTION_PATHS_ANNOTATION]: paths }))).toEqual({
      denied: `annotation courier.dev/connection-paths: ${problem}; ${PATHS_EXPECTED}`,
      code: 400,
    });
  });

  it('connection paths shared by two connections: 400', () => {
    const annotations = {
      'courier.dev/connections': 'aws-prod,github',
      [CONNECTION_PATHS_ANNOTATION]: '{"aws-prod":"/creds","github":"/creds"}',
    };
    expect(denial(pod(annotations)).denied).toBe(
      `annotation courier.dev/connection-paths: "github" and "aws-prod" share the path "/creds"; ${PATHS_EXPECTED}`,
    );
  });

  it('a ToolConnection that does not exist in the namespace: 403', () => {
    expect(denial(pod({ 'courier.dev/connections': 'github,gitlab' }))).toEqual({
      denied:
        'ToolConnection "gitlab" not found in namespace "scans"; create it or fix the courier.dev/connections annotation',
      code: 403,
    });
  });

  it.each(['courier-token', 'courier-credentials'])('a volume of its own named %s: 403', (name) => {
    expect(denial(pod(AWS, { volumes: [{ name, emptyDir: {} }] }))).toEqual({
      denied: `volume "${name}" is reserved for Courier, which adds it itself; remove it from the pod`,
      code: 403,
    });
  });

  it('an app container named courier-agent, even one that looks like the agent: 403', () => {
    const agent = mutated(AWS).spec!.initContainers![0]!;
    expect(denial(pod(AWS, { containers: [agent] }))).toEqual({
      denied: 'container name "courier-agent" is reserved for Courier, which adds it itself; remove it from the pod',
      code: 403,
    });
  });

  it('an init container named courier-agent that is not what Courier adds: 403', () => {
    const agent = mutated(AWS).spec!.initContainers![0]!;
    expect(denial(pod(AWS, { initContainers: [{ ...agent, image: 'other:1' }] }))).toEqual({
      denied:
        'init container name "courier-agent" is reserved for Courier, which adds it itself; remove it from the pod',
      code: 403,
    });
    expect(denial(pod(AWS, { initContainers: [{ ...agent, args: [...agent.args!, '--verbose'] }] })).code).toBe(403);
  });

  it('a container that mounts the token volume: 403', () => {
    const already = mutated(AWS);
    already.spec!.containers[0]!.volumeMounts!.push({ name: 'courier-token', mountPath: '/token' });
    expect(denial(already)).toEqual({
      denied:
        'container "scanner" mounts volume "courier-token" at "/token": the volume is reserved for Courier, which mounts it itself; remove the mount',
      code: 403,
    });
  });

  it('an init container that mounts the credentials volume elsewhere or writable: 403', () => {
    const writable = pod(AWS, {
      initContainers: [
        { name: 'prepare', image: 'p', volumeMounts: [{ name: 'courier-credentials', mountPath: '/var/run/courier' }] },
      ],
    });
    expect(denial(writable).denied).toBe(
      'init container "prepare" mounts volume "courier-credentials" at "/var/run/courier": the volume is reserved for Courier, which mounts it itself; remove the mount',
    );
  });

  it('a container that mounts something else where the credentials go: 403', () => {
    const containers = [
      { name: 'scanner', image: 's', volumeMounts: [{ name: 'data', mountPath: '/var/run/courier' }] },
    ];
    expect(denial(pod(AWS, { containers })).denied).toBe(
      'container "scanner" mounts volume "data" at "/var/run/courier", where Courier mounts credentials; mount it elsewhere',
    );
    const custom = { ...AWS, [CONNECTION_PATHS_ANNOTATION]: '{"aws-prod":"/home/scanner/.aws"}' };
    containers[0]!.volumeMounts[0]!.mountPath = '/home/scanner/.aws';
    expect(denial(pod(custom, { containers })).denied).toBe(
      'container "scanner" mounts volume "data" at "/home/scanner/.aws", where Courier mounts credentials; mount it elsewhere or choose another path in annotation courier.dev/connection-paths',
    );
  });
});

describe('a pod seen again', () => {
  it('gets only what another admission step left out, at the right indexes', () => {
    const again = mutated(AWS, { initContainers: [{ name: 'prepare', image: 'p' }] });
    // Another webhook added a container after Courier's first pass.
    again.spec!.initContainers!.push({ name: 'late', image: 'l' });
    expect(mutation(again).patch).toEqual([
      {
        op: 'add',
        path: '/spec/initContainers/2/volumeMounts',
        value: [{ name: 'courier-credentials', mountPath: '/var/run/courier', readOnly: true }],
      },
      {
        op: 'add',
        path: '/spec/initContainers/2/env',
        value: [
          { name: 'COURIER_CREDENTIALS_DIR', value: '/var/run/courier' },
          { name: 'AWS_SHARED_CREDENTIALS_FILE', value: '/var/run/courier/aws-prod/credentials' },
          { name: 'AWS_CONFIG_FILE', value: '/var/run/courier/aws-prod/config' },
        ],
      },
    ]);
  });

  it('keeps the variables a container defines itself, even ones Courier would set', () => {
    const subject = pod(AWS, {
      containers: [{ name: 'scanner', image: 's', env: [{ name: 'COURIER_CREDENTIALS_DIR', value: '/mine' }] }],
    });
    expect(applyPatch(subject, mutation(subject).patch).spec!.containers[0]!.env).toEqual([
      { name: 'COURIER_CREDENTIALS_DIR', value: '/mine' },
      { name: 'AWS_SHARED_CREDENTIALS_FILE', value: '/var/run/courier/aws-prod/credentials' },
      { name: 'AWS_CONFIG_FILE', value: '/var/run/courier/aws-prod/config' },
    ]);
  });
});
