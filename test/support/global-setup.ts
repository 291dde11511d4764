import type { TestProject } from 'vitest/node';
import { RedisTopology, type TopologyDescription } from '../../stack/topology.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared TLS topology: safe for tests that only read and write their own keys. */
    sharedTopology: TopologyDescription;
  }
}

/** Starts the shared TLS topology once for the integration project and stops it after. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const topology = await RedisTopology.start({ tls: true });
  project.provide('sharedTopology', topology.describe());
  return () => topology.stop();
}
