import type { ControlPlane } from './control-plane.ts';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { courierControlPlane?: ControlPlane }).courierControlPlane?.stop();
}
