import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { requireBinary } from './binaries.js';

/** Tables still in place, removed at exit if their owner did not (a crashed test run). */
const open = new Set<string>();
process.once('exit', () => {
  for (const table of open) spawnSync('nft', ['delete', 'table', 'inet', table]);
});

/**
 * Real network partitions between loopback addresses, for the nodes of a
 * topology started with `addresses: 'per-node'`: nftables rules in a table of
 * its own drop every packet between two groups of addresses, in both
 * directions, on input, so the senders see silence, not an error (a cable
 * pulled, not a port closed). Needs root and `nft` (scripts/setup-system.sh
 * installs nftables). `close()` deletes the table; an exit hook does it too,
 * so no rule outlives the run.
 */
export class NetworkPartition {
  private readonly nft: string;
  private closed = false;

  private constructor(readonly table: string) {
    this.nft = requireBinary('nft');
  }

  static create(): NetworkPartition {
    const partition = new NetworkPartition(`redscope_${randomBytes(4).toString('hex')}`);
    partition.run([
      'add table inet TABLE',
      'add chain inet TABLE input { type filter hook input priority -10 ; policy accept ; }',
    ]);
    open.add(partition.table);
    return partition;
  }

  /** Drops every packet between each address of `a` and each of `b`, both ways. */
  cut(a: readonly string[], b: readonly string[]): void {
    const rules: string[] = [];
    for (const from of a) {
      for (const to of b) {
        rules.push(`add rule inet TABLE input ip saddr ${from} ip daddr ${to} drop`);
        rules.push(`add rule inet TABLE input ip saddr ${to} ip daddr ${from} drop`);
      }
    }
    this.run(rules);
  }

  /** Removes every cut. */
  heal(): void {
    this.run(['flush chain inet TABLE input']);
  }

  /** Removes the table and its rules. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.run(['delete table inet TABLE']);
    } finally {
      open.delete(this.table);
    }
  }

  /** One nft transaction: all the commands apply at once, or none. */
  private run(commands: readonly string[]): void {
    const script = commands.map((c) => c.replaceAll('TABLE', this.table)).join('\n');
    execFileSync(this.nft, ['-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'] });
  }
}
