import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { type ConnectionOptions, connect, createServer as createTlsServer } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { isTlsError } from '../../../client/common/tls-errors.js';

// Certificate and key in one PEM each, valid for a century (expired.pem: 2000 only);
// fixtures/tls/README.md says how they were made.
const pem = (name: string) => readFileSync(new URL(`./fixtures/tls/${name}.pem`, import.meta.url));
const ca = pem('ca');

const servers: Server[] = [];
afterAll(() => {
  for (const server of servers) server.close();
});

async function listening(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** A TLS server presenting `name`'s certificate, answering like Redis once connected. */
function tlsServer(name: string): Promise<number> {
  const identity = pem(name);
  const server = createTlsServer({ cert: identity, key: identity }, (socket) => {
    socket.on('error', () => undefined);
    socket.end('+OK\r\n');
  });
  server.on('tlsClientError', () => undefined);
  return listening(server);
}

/** A plain-TCP server doing `onSocket` with each connection. */
function tcpServer(onSocket: (socket: Socket) => void): Promise<number> {
  return listening(
    createTcpServer((socket) => {
      socket.on('error', () => undefined);
      onSocket(socket);
    }),
  );
}

/** The error Node gives a TLS client connecting to `port`; fails the test if it connects. */
function tlsConnectError(port: number, options: ConnectionOptions = {}): Promise<Error> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...options });
    socket.on('secureConnect', () => {
      socket.destroy();
      reject(new Error('the TLS connection succeeded'));
    });
    socket.on('error', resolve);
  });
}

describe('isTlsError', () => {
  describe('happy', () => {
    it('knows a certificate no CA vouches for (UNABLE_TO_VERIFY_LEAF_SIGNATURE)', async () => {
      const error = await tlsConnectError(await tlsServer('server'));
      expect(error).toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
      expect(isTlsError(error)).toBe(true);
    });

    it('knows a self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)', async () => {
      const error = await tlsConnectError(await tlsServer('self-signed'));
      expect(error).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
      expect(isTlsError(error)).toBe(true);
    });

    it('knows an expired certificate (CERT_HAS_EXPIRED)', async () => {
      const error = await tlsConnectError(await tlsServer('expired'), { ca });
      expect(error).toMatchObject({ code: 'CERT_HAS_EXPIRED' });
      expect(isTlsError(error)).toBe(true);
    });

    it('knows a certificate for another host name (ERR_TLS_CERT_ALTNAME_INVALID)', async () => {
      const error = await tlsConnectError(await tlsServer('server'), {
        ca,
        servername: 'cache.example',
      });
      expect(error).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      expect(isTlsError(error)).toBe(true);
    });

    it('knows a CA certificate presented as a server certificate (INVALID_PURPOSE)', async () => {
      const error = await tlsConnectError(await tlsServer('ca'), { ca });
      expect(error).toMatchObject({ code: 'INVALID_PURPOSE' });
      expect(isTlsError(error)).toBe(true);
    });

    it('knows a plain-TCP Redis answering a TLS client (ERR_SSL_WRONG_VERSION_NUMBER)', async () => {
      const port = await tcpServer((socket) => socket.write('-ERR unknown command\r\n'));
      const error = await tlsConnectError(port);
      expect(error).toMatchObject({ code: 'ERR_SSL_WRONG_VERSION_NUMBER' });
      expect(isTlsError(error)).toBe(true);
    });

    it('knows verification results whose message names nothing TLS, by their code', () => {
      // What Node reports for a chain longer than a CA's pathlen, and for a stale CRL.
      const pathLength = {
        code: 'PATH_LENGTH_EXCEEDED',
        message: 'path length constraint exceeded',
      };
      expect(isTlsError(pathLength)).toBe(true);
      expect(isTlsError({ code: 'CRL_HAS_EXPIRED', message: 'CRL has expired' })).toBe(true);
    });

    it('knows a TLS failure a library rewrapped without its code, by the message', () => {
      expect(isTlsError(new Error('Redis connection failed: certificate has expired'))).toBe(true);
      expect(isTlsError({ message: 'SSL routines::tlsv1 alert unknown ca' })).toBe(true);
    });
  });

  describe('unhappy', () => {
    it('does not take a refused connection for a TLS failure (ECONNREFUSED)', async () => {
      const closed = createTcpServer();
      const port = await listening(closed);
      await new Promise((resolve) => closed.close(resolve));
      const error = await tlsConnectError(port);
      expect(error).toMatchObject({ code: 'ECONNREFUSED' });
      expect(isTlsError(error)).toBe(false);
    });

    it('does not take a reset connection for a TLS failure (ECONNRESET)', async () => {
      const error = await tlsConnectError(await tcpServer((socket) => socket.resetAndDestroy()));
      expect(error).toMatchObject({ code: 'ECONNRESET' });
      expect(isTlsError(error)).toBe(false);
    });

    it('leaves timeouts to the timeout reason, even when the message names TLS', () => {
      expect(isTlsError(Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }))).toBe(
        false,
      );
      expect(isTlsError(new Error('TLS handshake timed out'))).toBe(false);
    });

    it('answers false for values that are not errors', () => {
      for (const value of [undefined, null, '', 'certificate', 42, {}]) {
        expect(isTlsError(value)).toBe(false);
      }
    });
  });
});
