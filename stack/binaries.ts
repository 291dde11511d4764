import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { MissingBinaryError } from './errors.js';

/** Debian package that ships each system binary redscope starts. */
export const DEBIAN_PACKAGE_OF = {
  'redis-server': 'redis-server',
  'redis-sentinel': 'redis-sentinel',
  'redis-cli': 'redis-tools',
  prometheus: 'prometheus',
  promtool: 'prometheus',
  'prometheus-alertmanager': 'prometheus-alertmanager',
  amtool: 'prometheus-alertmanager',
  'prometheus-redis-exporter': 'prometheus-redis-exporter',
  openssl: 'openssl',
  // Network partitions in the HA tests and the failover bench (stack/network-partition.ts).
  nft: 'nftables',
  // The network namespace in which the hostname topology's names resolve (stack/name-namespace.ts).
  ip: 'iproute2',
} as const;

export type SystemBinary = keyof typeof DEBIAN_PACKAGE_OF;

/** Absolute path of a system binary on PATH, or a MissingBinaryError naming the install command. */
export function requireBinary(binary: SystemBinary, path = process.env.PATH ?? ''): string {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  throw new MissingBinaryError(binary, DEBIAN_PACKAGE_OF[binary]);
}
