import type { Socket } from 'node:net';
import { type FakeRedis, minimalRedis, startFakeRedis } from './fake-redis.js';

/**
 * A stand-in for one Sentinel that monitors `masterName`: enough for the
 * exporter to scrape it and subscribe to its events, and a way to announce an
 * event to that Sentinel's subscribers only (a real one announces a failover on
 * every Sentinel at once, which cannot tell two exporters' watches apart).
 */
export interface FakeSentinel extends FakeRedis {
  /** Sends `message` on `channel` to every connection that ran PSUBSCRIBE. */
  publish(channel: string, message: string): void;
  /** Connections that ran PSUBSCRIBE so far. */
  readonly subscribers: number;
}

const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
const array = (...items: string[]) => `*${items.length}\r\n${items.map(bulk).join('')}`;

export async function startFakeSentinel(
  masterName: string,
  master = { host: '127.0.0.1', port: 6379 },
): Promise<FakeSentinel> {
  const subscribers = new Set<Socket>();
  const info = [
    '# Server',
    'redis_version:7.0.15',
    'redis_mode:sentinel',
    'uptime_in_seconds:5',
    '',
    '# Sentinel',
    'sentinel_masters:1',
    `master0:name=${masterName},status=ok,address=${master.host}:${master.port},slaves=0,sentinels=1`,
    '',
  ].join('\r\n');
  const fake = await startFakeRedis((command, socket) => {
    const name = (command[0] ?? '').toUpperCase();
    if (name === 'INFO') return bulk(info);
    if (name === 'CLIENT') return '+OK\r\n';
    if (name === 'PSUBSCRIBE') {
      subscribers.add(socket);
      socket.on('close', () => subscribers.delete(socket));
      const pattern = command[1] ?? '*';
      return `*3\r\n${bulk('psubscribe')}${bulk(pattern)}:1\r\n`;
    }
    if (name === 'SENTINEL' && command[1]?.toUpperCase() === 'GET-MASTER-ADDR-BY-NAME') {
      return command[2] === masterName ? array(master.host, String(master.port)) : '*-1\r\n';
    }
    if (name === 'SENTINEL') return '*0\r\n';
    return minimalRedis(command, socket);
  });
  return {
    port: fake.port,
    commands: fake.commands,
    get connections() {
      return fake.connections;
    },
    close: () => fake.close(),
    publish(channel, message) {
      for (const socket of subscribers) socket.write(array('pmessage', '*', channel, message));
    },
    get subscribers() {
      return subscribers.size;
    },
  };
}
