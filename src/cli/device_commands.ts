/*
 * The registrations of the device administration commands
 * (resize-devices, change-format-version, change-quorum-config,
 * prepare-empty-data-device), spread into main.ts's command list.
 * Options are the original's; arguments are checked by the commands so
 * that their messages are the original's.
 */
import type { CmdSpec } from "./main.js";
import { FORMAT_VERSION_MAX, FORMAT_VERSION_MIN } from "../format/constants.js";
import { changeFormatVersionCommand, changeQuorumConfigCommand, prepareEmptyDataDeviceCommand, resizeDevicesCommand } from "./cmd_devices.js";

const out = (s: string) => process.stdout.write(s + "\n");
const err = (s: string) => process.stderr.write(s + "\n");
const collect = (v: string, prev: string[]) => [...prev, v];

export const DEVICE_COMMANDS: CmdSpec[] = [
  {
    name: "resize-devices",
    group: "Core admin",
    args: "[-p|--path PATH] [-m|--meta-size SIZE] [-d|--data-size SIZE]",
    doc: "Grow the metadata and/or data devices a mounted filesystem uses (root only; shrinking is refused)",
    build: (c) =>
      c
        .option("-p, --path <PATH>", "any path inside the mount (default: $SCOUTFS_MOUNT_PATH, else the current directory)")
        .option("-m, --meta-size <SIZE>", "New size of the metadata device in bytes or KMGTP units (0: unchanged)")
        .option("-d, --data-size <SIZE>", "New size of the data device in bytes or KMGTP units (0: unchanged)")
        .action(async (o: { path?: string; metaSize?: string; dataSize?: string }) => {
          await resizeDevicesCommand(o, out);
        }),
  },
  {
    name: "change-format-version",
    group: "Core admin",
    args: "[-V|--format-version VERS] -F|--offline META-DEVICE DATA-DEVICE",
    doc: "Change the format version of an unmounted filesystem (upgrade only)",
    build: (c) =>
      c
        .argument("[DEVICES...]", "META-DEVICE DATA-DEVICE")
        .option("-F, --offline", "Write the format version in the offline devices' super blocks [Currently Required]")
        .option("-V, --format-version <VERS>", `A format version within the supported range (${FORMAT_VERSION_MIN}-${FORMAT_VERSION_MAX}, default ${FORMAT_VERSION_MAX})`)
        .action(async (devices: string[], o: { offline?: boolean; formatVersion?: string }) => {
          await changeFormatVersionCommand({ devices, ...o }, out);
        }),
  },
  {
    name: "change-quorum-config",
    group: "Core admin",
    args: "{-Q|--quorum-slot NR,ADDR,PORT} -F|--offline META-DEVICE",
    doc: "Replace the quorum slots of an unmounted filesystem",
    build: (c) =>
      c
        .argument("[DEVICES...]", "META-DEVICE")
        .option("-Q, --quorum-slot <NR,ADDR,PORT>", "A quorum slot of the new configuration, repeated for each [Required]", collect, [])
        .option("-F, --offline", "Write the configuration in the offline metadata device's super block [Currently Required]")
        .action(async (devices: string[], o: { quorumSlot: string[]; offline?: boolean }) => {
          await changeQuorumConfigCommand({ devices, ...o }, out);
        }),
  },
  {
    name: "prepare-empty-data-device",
    group: "Core admin",
    args: "[-c|--check] META-DEVICE DATA-DEVICE",
    doc: "Prepare an unused device as the data device of an unmounted filesystem whose files hold no data blocks",
    build: (c) =>
      c
        .argument("[DEVICES...]", "META-DEVICE DATA-DEVICE")
        .option("-c, --check", "Only check for errors and do not write")
        .action(async (devices: string[], o: { check?: boolean }) => {
          await prepareEmptyDataDeviceCommand({ devices, ...o }, out, err);
        }),
  },
];
