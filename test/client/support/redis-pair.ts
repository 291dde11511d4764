import type { Redis } from 'ioredis';
import { clientFor, portOf, sharedTopology } from '../../support/shared-topology.js';

/** A writer on the shared master and a reader on its first replica; quit both with `close()`. */
export function sharedPair(): { writer: Redis; reader: Redis; close(): void } {
  const topology = sharedTopology();
  const writer = clientFor(topology, portOf(topology, 'master'));
  const reader = clientFor(topology, portOf(topology, 'replica'));
  return {
    writer,
    reader,
    close() {
      writer.disconnect();
      reader.disconnect();
    },
  };
}

/** A key prefix no other test uses (letters only, so query texts keep it as a namespace). */
export function uniquePrefix(name: string): string {
  const letters = Array.from({ length: 10 }, () =>
    String.fromCharCode(97 + Math.floor(Math.random() * 26)),
  );
  return `t-${name}-${letters.join('')}:`;
}
