import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { Address } from './config.js';

/**
 * Whether `address` speaks the other protocol than the one the client dialled
 * with: asked after a connect that failed the way a mismatch fails, which is
 * also how a hung or overloaded server fails. A TLS client against a plain
 * Redis waits for a handshake answer that never comes (Redis reads the
 * ClientHello as an unfinished inline command), and a plain client against a
 * TLS port is disconnected without a reply. One short try of the other
 * protocol tells them apart, so ready() can name the node and the fix at once
 * instead of timing out:
 *
 * - `tlsDialled`: a plain `PING` gets any RESP reply (`+PONG`, `-NOAUTH`);
 * - plain dialled: a TLS handshake completes. Certificates are not checked
 *   here (nothing but the handshake is sent, and the socket closes right
 *   after): the question is only whether the port speaks TLS.
 *
 * Resolves false on any other outcome, within `timeoutMs`.
 */
export function speaksOtherProtocol(
  address: Address,
  tlsDialled: boolean,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    let socket: Socket;
    const done = (answer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref();
    if (tlsDialled) {
      socket = connectTcp({ host: address.host, port: address.port });
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data: Buffer) => {
        const first = data[0];
        done(first === 0x2b /* + */ || first === 0x2d /* - */);
      });
    } else {
      socket = connectTls({
        host: address.host,
        port: address.port,
        rejectUnauthorized: false,
        // SNI takes names only; an IP as servername is a Node warning.
        ...(/^[\d.]+$|:/.test(address.host) ? {} : { servername: address.host }),
      });
      socket.once('secureConnect', () => done(true));
    }
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}
