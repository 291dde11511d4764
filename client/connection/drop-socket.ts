import type { Socket } from 'node:net';

/**
 * Drops a socket at once: with a reset where Node allows it (plain TCP), so
 * the kernel discards what it had not delivered; a TLS socket can only be
 * closed, and the kernel may still deliver data already sent once the path
 * is back (docs/ha.md says so).
 */
export function dropSocket(socket: Socket | undefined): void {
  if (socket === undefined || socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}
