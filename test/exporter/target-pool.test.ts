import { describe, expect, it } from 'vitest';
import { createExporterLogger } from '../../exporter/logger.js';
import { parseTarget } from '../../exporter/target.js';
import { TargetPool } from '../../exporter/target-pool.js';

const pool = () => new TargetPool({ insecureSkipVerify: false }, createExporterLogger('silent'));
const target = parseTarget('redis://10.0.0.1:6379');

describe('the target pool', () => {
  describe('happy', () => {
    it('hands out one connection per target and credentials, equal credentials sharing it', () => {
      const connections = pool();
      const first = connections.get({ target, auth: { username: 'a', password: 'one' } });
      const again = connections.get({ target, auth: { username: 'a', password: 'one' } });
      expect(again).toBe(first);
      expect(connections.get({ target: parseTarget('redis://10.0.0.1'), auth: {} })).toBe(
        connections.get({ target, auth: {} }),
      );
      expect(connections.size).toBe(2);
    });
  });

  describe('unhappy', () => {
    it('never gives a target reached with other credentials, or none, the same connection', () => {
      const connections = pool();
      const metrics = connections.get({ target, auth: { username: 'a', password: 'one' } });
      const otherUser = connections.get({ target, auth: { username: 'b', password: 'one' } });
      const otherPassword = connections.get({ target, auth: { username: 'a', password: 'two' } });
      const none = connections.get({ target, auth: {} });
      const all = new Set([metrics, otherUser, otherPassword, none]);
      expect(all.size).toBe(4);
      for (const connection of all) expect(connection.target).toEqual(target);
    });

    it('keeps passwords out of what it keys connections by', () => {
      const connections = pool();
      connections.get({ target, auth: { username: 'a', password: 'hunter2-do-not-keep' } });
      const keys = [
        ...(connections as unknown as { connections: Map<string, unknown> }).connections.keys(),
      ];
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatch(/^redis:\/\/10\.0\.0\.1:6379 /);
      expect(keys[0]).not.toContain('hunter2');
    });
  });
});
