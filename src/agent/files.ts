// How a connection's credentials look on disk, and how they get there.
//
// Every file is replaced atomically (temp file in the same directory, fsync,
// rename), so a scan reading while the sidecar refreshes sees the old or the
// new content, never a torn one. Modes are set explicitly, never left to the
// umask: the credentials volume is shared with the app containers.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  AWS_CONFIG_FILE,
  AWS_CREDENTIALS_FILE,
  CREDENTIALS_JSON_FILE,
  READY_MARKER,
  type CredentialResponse,
} from '../api/v1alpha1/delivery.ts';

/** 0o400: the agent's user only; 0o440: its group too (an fsGroup the app containers share). */
export type FileMode = 0o400 | 0o440;

/** A generic field becomes a file of this name; no dot first, so it cannot hide or clash with temp files. */
const FIELD_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const RESERVED_NAMES: ReadonlySet<string> = new Set([CREDENTIALS_JSON_FILE, AWS_CREDENTIALS_FILE, AWS_CONFIG_FILE]);
const TEMP_INFIX = '.tmp-';
const S_ISGID = 0o2000;

/** The credentials cannot be laid out as files (a generic field's name). */
export class CredentialLayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialLayoutError';
  }
}

/** A directory that the files' readers can enter: x for whoever may read the files. */
export function directoryMode(fileMode: FileMode): number {
  return fileMode === 0o440 ? 0o750 : 0o700;
}

/** The AWS credential_process output format: https://docs.aws.amazon.com/sdkref/latest/guide/feature-process-credentials.html */
interface ProcessCredentials {
  Version: 1;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken?: string;
  Expiration?: string;
}

/**
 * The files (name → content) for one connection's credentials.
 * @throws CredentialLayoutError when a generic field cannot be a file name.
 */
export function credentialFiles(response: CredentialResponse): Map<string, string> {
  if (response.kind === 'generic') return genericFiles(response);
  const aws = response.aws;
  if (aws === undefined) throw new CredentialLayoutError('the response holds no AWS credentials');
  const credentials = [
    '[default]',
    `aws_access_key_id = ${aws.accessKeyId}`,
    `aws_secret_access_key = ${aws.secretAccessKey}`,
  ];
  if (aws.sessionToken !== undefined) credentials.push(`aws_session_token = ${aws.sessionToken}`);
  const process: ProcessCredentials = {
    Version: 1,
    AccessKeyId: aws.accessKeyId,
    SecretAccessKey: aws.secretAccessKey,
    ...(aws.sessionToken === undefined ? {} : { SessionToken: aws.sessionToken }),
    ...(response.expiration === undefined ? {} : { Expiration: response.expiration }),
  };
  return new Map([
    [AWS_CREDENTIALS_FILE, lines(credentials)],
    [AWS_CONFIG_FILE, lines(['[default]', `region = ${aws.region}`])],
    [CREDENTIALS_JSON_FILE, `${JSON.stringify(process, null, 2)}\n`],
  ]);
}

function genericFiles(response: CredentialResponse): Map<string, string> {
  const generic = response.generic;
  if (generic === undefined) throw new CredentialLayoutError('the response holds no generic credentials');
  const files = new Map<string, string>();
  for (const [name, value] of Object.entries(generic.fields)) {
    if (!FIELD_NAME.test(name) || RESERVED_NAMES.has(name)) {
      throw new CredentialLayoutError(
        `field ${JSON.stringify(name)} cannot be a file name: use letters, digits, ".", "_" and "-" ` +
          `(at most 63, not starting with "." "_" or "-"), and none of ${[...RESERVED_NAMES].join(', ')}`,
      );
    }
    // Exactly the stored value: a password file with an added newline is a different password.
    files.set(name, value);
  }
  const { purpose, host, port, fields } = generic;
  const json = { purpose, ...(host === undefined ? {} : { host }), ...(port === undefined ? {} : { port }), fields };
  files.set(CREDENTIALS_JSON_FILE, `${JSON.stringify(json, null, 2)}\n`);
  return files;
}

function lines(items: string[]): string {
  return `${items.join('\n')}\n`;
}

/**
 * Writes `files` into `${outputDir}/${connection}/` and then removes any other
 * file there (fields from an earlier answer, temp files of a killed agent).
 * Returns the paths written.
 */
export async function writeConnectionFiles(
  outputDir: string,
  connection: string,
  files: Map<string, string>,
  fileMode: FileMode,
): Promise<string[]> {
  const dir = path.join(outputDir, connection);
  await ensureDirectory(dir, directoryMode(fileMode));
  const written: string[] = [];
  for (const [name, content] of files) {
    await writeFileAtomically(dir, name, content, fileMode);
    written.push(path.join(dir, name));
  }
  // Stale files go only after the new set is complete, so a reader never
  // finds the directory without credentials in it.
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() && !files.has(entry.name)) await rm(path.join(dir, entry.name), { force: true });
  }
  await syncDirectory(dir);
  return written;
}

/** The empty file the sidecar's startup probe waits for. */
export async function writeReadyMarker(outputDir: string, fileMode: FileMode): Promise<string> {
  await writeFileAtomically(outputDir, READY_MARKER, '', fileMode);
  await syncDirectory(outputDir);
  return path.join(outputDir, READY_MARKER);
}

async function ensureDirectory(dir: string, mode: number): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  // mkdir's mode passes through the umask and leaves an existing directory
  // alone. chmod(2) sets the mode exactly, which would also drop the setgid
  // bit that makes new files take the fsGroup of an emptyDir: keep that bit.
  const { mode: current } = await stat(dir);
  await chmod(dir, mode | (current & S_ISGID));
}

/**
 * Replaces `dir/name` with `content` atomically. The temp file is created
 * exclusively with its final mode (so it is never readable by more than the
 * result will be), chmod-ed because the umask may have narrowed that mode,
 * synced, then renamed over the old file; it is removed if any step fails.
 */
export async function writeFileAtomically(dir: string, name: string, content: string, mode: number): Promise<void> {
  const target = path.join(dir, name);
  const temp = path.join(dir, `.${name}${TEMP_INFIX}${randomBytes(6).toString('hex')}`);
  let handle;
  try {
    handle = await open(temp, 'wx', mode);
    await handle.chmod(mode);
    await handle.writeFile(content, 'utf8');
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, target);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** Makes the renames durable. Meaningless on tmpfs, cheap, and right on any other medium. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
