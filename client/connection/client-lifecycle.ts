import type { Cluster, Command, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { runDetached } from '../logging/request-context.js';
import type { ResolvedClientsConfig } from './config.js';

/**
 * A command whose caller was already told it failed (it timed out, or the
 * connection it was sent on closed) must never run later. ioredis keeps a
 * timed-out command in its offline queue and sends it after the reconnect,
 * to whichever node is master by then: a write the app retried, or gave up
 * on, would land seconds later. Checked where ioredis sends, so a settled
 * command is dropped whether it comes from the offline queue or is resent as
 * unfulfilled after a reconnect (a Cluster's offline queue, while no node
 * is known, goes through the same method). Installed before the instrumentation's hook.
 */
export function neverSendSettled(client: Redis | Cluster): void {
  type Send = (command: Command, stream?: unknown, node?: unknown) => unknown;
  const target = client as unknown as { sendCommand: Send };
  const send = target.sendCommand;
  target.sendCommand = function (this: unknown, command, stream, node) {
    if ((command as Command & { isSettled?: boolean }).isSettled === true) return command.promise;
    return send.call(this, command, stream, node);
  };
}

/** The options that turn certificate verification off, by name. */
export function insecureTlsOptions(config: ResolvedClientsConfig): string[] {
  const insecure: string[] = [];
  if (config.tls?.rejectUnauthorized === false) insecure.push('tls.insecureSkipVerify');
  if (config.mode === 'sentinel' && config.sentinelTls?.rejectUnauthorized === false) {
    if (config.sentinelTls !== config.tls) insecure.push('sentinelTls.insecureSkipVerify');
  }
  return insecure;
}

/** The warning an insecure TLS option costs, once, at creation. */
export function warnInsecureTls(logger: Logger, insecure: readonly string[]): void {
  if (insecure.length === 0) return;
  runDetached(() =>
    logger.warn(
      { event: 'redis.tls_insecure', options: insecure },
      'Redis TLS certificate verification is OFF: anyone on the network path can impersonate Redis. Use only in a lab.',
    ),
  );
}

/** QUIT (a second at most), then disconnect, which also ends ioredis' timers. */
export async function quit(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') {
    try {
      await Promise.race([
        client.quit(),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('quit timed out')), 1000).unref(),
        ),
      ]);
    } catch {
      // closed below either way
    }
  }
  // quit() leaves ioredis' Sentinel connector and its timers alive; disconnect() ends them.
  client.disconnect();
}
