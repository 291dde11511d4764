import { connect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  dialedHost,
  type PeerSocket,
  peerOf,
  socketGoesTo,
} from '../../../client/connection/dialed-address.js';

/** A socket as Node leaves it after dialling `host`, connected to `remoteAddress:remotePort`. */
const socketTo = (host: string, remoteAddress: string, remotePort: number): PeerSocket =>
  ({ _host: host, remoteAddress, remotePort }) as PeerSocket;

describe('where a connection goes, in the terms Sentinel uses', () => {
  describe('happy', () => {
    it('matches a node Sentinel names by hostname through the name dialled, not the IP it resolved to', () => {
      const socket = socketTo('redis-1.redscope.test', '::1', 6380);
      expect(socketGoesTo(socket, { host: 'redis-1.redscope.test', port: 6380 })).toBe(true);
      expect(socketGoesTo(socket, { host: 'REDIS-1.redscope.test', port: 6380 })).toBe(true);
      expect(peerOf(socket)).toEqual({ host: 'redis-1.redscope.test', port: 6380 });
    });

    it('matches a node Sentinel names by IP through the peer address', () => {
      const socket = socketTo('10.0.0.7', '10.0.0.7', 6379);
      expect(socketGoesTo(socket, { host: '10.0.0.7', port: 6379 })).toBe(true);
      expect(peerOf({ remoteAddress: '10.0.0.7', remotePort: 6379 })).toEqual({
        host: '10.0.0.7',
        port: 6379,
      });
    });

    it('reads the host Node dialled from a real socket (the fallback to IPs is only for a Node that stops keeping it)', async () => {
      const server: Server = createServer((socket) => socket.end());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as { port: number };
      const socket: Socket = connect({ host: 'localhost', port, family: 4 });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('error', reject);
        });
        expect(dialedHost(socket)).toBe('localhost');
        expect(socket.remoteAddress).toBe('127.0.0.1');
        expect(socketGoesTo(socket, { host: 'localhost', port })).toBe(true);
        expect(peerOf(socket)).toEqual({ host: 'localhost', port });
      } finally {
        socket.destroy();
        server.close();
      }
    });
    it('reads it from a TLS socket too (tls.connect, how the client dials with TLS on)', async () => {
      // A plain TCP server: the TLS handshake never finishes, but the host is known from the
      // moment the socket dials, and a TLS socket is connected once TCP is.
      const server: Server = createServer((socket) => socket.on('error', () => undefined));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as { port: number };
      // `family` reaches net.connect, though tls' ConnectionOptions type does not list it.
      const ipv4 = { family: 4 } as object;
      const socket = tlsConnect({ host: 'localhost', port, rejectUnauthorized: false, ...ipv4 });
      socket.on('error', () => undefined);
      try {
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        expect(dialedHost(socket)).toBe('localhost');
        expect(socket.remoteAddress).toBe('127.0.0.1');
        expect(socketGoesTo(socket, { host: 'localhost', port })).toBe(true);
        expect(peerOf(socket)).toEqual({ host: 'localhost', port });
      } finally {
        socket.destroy();
        server.close();
      }
    });
  });

  describe('unhappy', () => {
    it('tells apart nodes that share one IP by name and port', () => {
      // Every node on ::1 (the hostname test topology), or behind one proxy address.
      const socket = socketTo('redis-1.redscope.test', '::1', 6380);
      expect(socketGoesTo(socket, { host: 'redis-2.redscope.test', port: 6380 })).toBe(false);
      expect(socketGoesTo(socket, { host: 'redis-1.redscope.test', port: 6381 })).toBe(false);
    });

    it('matches nothing before the socket is connected', () => {
      const connecting = { _host: 'redis-1.redscope.test' } as PeerSocket;
      expect(socketGoesTo(connecting, { host: 'redis-1.redscope.test', port: 6379 })).toBe(false);
      expect(peerOf(connecting)).toBeUndefined();
      expect(socketGoesTo(undefined, { host: 'x', port: 1 })).toBe(false);
    });
  });
});

describe('a socket without the dialled host (another Node)', () => {
  it('still matches by IP', () => {
    const socket = { remoteAddress: '127.0.0.1', remotePort: 6379 } as PeerSocket;
    expect(dialedHost(socket)).toBeUndefined();
    expect(socketGoesTo(socket, { host: '127.0.0.1', port: 6379 })).toBe(true);
    expect(socketGoesTo(socket, { host: 'redis-1.redscope.test', port: 6379 })).toBe(false);
  });
});
