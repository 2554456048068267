// Finds (or builds once) the pinned Kubernetes binaries via hack/kube-binaries.sh.
import { execa } from 'execa';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function kubeBinaries(...names: string[]): Promise<string> {
  const { stdout } = await execa('bash', [path.join(REPO_ROOT, 'hack/kube-binaries.sh'), ...names], {
    stderr: 'inherit',
  });
  const dir = stdout.trim().split('\n').pop();
  if (!dir) throw new Error('hack/kube-binaries.sh printed no directory');
  return dir;
}
