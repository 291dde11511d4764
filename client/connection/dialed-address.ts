import type { Address } from './config.js';

/** The parts of a socket (net or TLS) that say where it goes. */
export interface PeerSocket {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
}

/**
 * The host a socket was asked to connect to, as given: the DNS name when the
 * Sentinels announce names (`sentinel announce-hostnames yes`), where
 * `remoteAddress` only holds the IP the name resolved to. Node keeps it on
 * the socket as `_host` (set by net.Socket#connect, which tls.connect goes
 * through); undefined if a Node version stops doing so, and then the
 * comparisons below fall back to the IP alone.
 */
export function dialedHost(socket: PeerSocket | undefined): string | undefined {
  const host = (socket as { _host?: unknown } | undefined)?._host;
  return typeof host === 'string' && host !== '' ? host : undefined;
}

/**
 * Whether `socket` goes to `address` as a Sentinel names it: an IP the socket
 * is connected to, or the name it dialled (names compare case-insensitively,
 * as DNS does). Every node may share one IP (a proxy, or loopback in the
 * tests), so the port must match too.
 */
export function socketGoesTo(socket: PeerSocket | undefined, address: Address): boolean {
  if (socket?.remotePort === undefined || socket.remotePort !== address.port) return false;
  if (socket.remoteAddress !== undefined && socket.remoteAddress === address.host) return true;
  return dialedHost(socket)?.toLowerCase() === address.host.toLowerCase();
}

/**
 * The address of the node a connected socket goes to, in the terms a Sentinel
 * uses for it: the name dialled (the client dials what Sentinel announced), or
 * the peer IP when the host is unknown.
 */
export function peerOf(socket: PeerSocket | undefined): Address | undefined {
  if (socket?.remotePort === undefined) return undefined;
  const host = dialedHost(socket) ?? socket.remoteAddress;
  return host === undefined ? undefined : { host, port: socket.remotePort };
}
