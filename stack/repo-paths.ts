import { join } from 'node:path';
import { packageRoot } from '../exporter/package-root.js';

// The launcher's tools (bench, bundle generators, tests) keep importing it from here.
export { packageRoot };

/** Folder of the Redis and Sentinel configs that users deploy and the launcher renders. */
export const sentinelConfigDir = (): string => join(packageRoot(), 'sentinel');

/** Folder of the Redis Cluster configs that users deploy and the cluster launcher renders. */
export const clusterConfigDir = (): string => join(packageRoot(), 'cluster');
