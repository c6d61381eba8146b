/*
 * Helpers for tests that run a whole mount on simulated devices.
 */
import { MemBlockDevice } from "../../src/block/sim_device.js";
import { writeNewFilesystem } from "../../src/cli/mkfs_core.js";
import { Mount, type MountOptions } from "../../src/client/mount.js";

export interface SimDevices {
  meta: MemBlockDevice;
  data: MemBlockDevice;
}

export async function simMkfs(metaBytes = 256 * 1024 * 1024, dataBytes = 512 * 1024 * 1024): Promise<SimDevices> {
  const meta = new MemBlockDevice("meta", metaBytes);
  const data = new MemBlockDevice("data", dataBytes);
  await writeNewFilesystem({ meta, data, quorumSlots: [{ addr: "127.0.0.1", port: 12345 }], fsid: 0xabcdefn });
  return { meta, data };
}

export function simMount(d: SimDevices, opts: MountOptions = {}): Promise<Mount> {
  return Mount.open(d.meta, d.data, { commitIntervalMs: 3_600_000, ...opts });
}

/** a deterministic rng (mulberry32) */
export function seededRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
