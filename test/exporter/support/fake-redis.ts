import { createServer, type Server, type Socket } from 'node:net';

/**
 * A tiny stand-in for Redis on a loopback port (ioredis' mock_server idea):
 * it records every command it receives and answers with `respond`, so tests
 * can see exactly what the exporter sends (AUTH to whom) or feed it garbage.
 */
export interface FakeRedis {
  readonly port: number;
  readonly commands: string[][];
  readonly connections: number;
  close(): Promise<void>;
}

export type Responder = (command: string[], socket: Socket) => string | undefined;

/** Answers AUTH with OK, INFO with a minimal standalone server, anything else with an error. */
export const minimalRedis: Responder = (command) => {
  const name = (command[0] ?? '').toUpperCase();
  if (name === 'AUTH') return '+OK\r\n';
  if (name === 'INFO') {
    const body =
      '# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nuptime_in_seconds:5\r\n';
    return `$${Buffer.byteLength(body)}\r\n${body}\r\n`;
  }
  return `-ERR unknown command '${name}'\r\n`;
};

/** Parses RESP arrays of bulk strings, the way clients send commands. */
function parseCommands(buffer: string): { commands: string[][]; rest: string } {
  const commands: string[][] = [];
  let i = 0;
  outer: while (i < buffer.length) {
    if (buffer[i] !== '*') break;
    const end = buffer.indexOf('\r\n', i);
    if (end < 0) break;
    const count = Number(buffer.slice(i + 1, end));
    let j = end + 2;
    const words: string[] = [];
    for (let k = 0; k < count; k++) {
      const lenEnd = buffer.indexOf('\r\n', j);
      if (lenEnd < 0 || buffer[j] !== '$') break outer;
      const len = Number(buffer.slice(j + 1, lenEnd));
      if (buffer.length < lenEnd + 2 + len + 2) break outer;
      words.push(buffer.slice(lenEnd + 2, lenEnd + 2 + len));
      j = lenEnd + 2 + len + 2;
    }
    commands.push(words);
    i = j;
  }
  return { commands, rest: buffer.slice(i) };
}

export async function startFakeRedis(respond: Responder = minimalRedis): Promise<FakeRedis> {
  const commands: string[][] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = '';
    socket.on('data', (data) => {
      const parsed = parseCommands(pending + data.toString('latin1'));
      pending = parsed.rest;
      for (const command of parsed.commands) {
        commands.push(command);
        const answer = respond(command, socket);
        if (answer !== undefined && !socket.destroyed) socket.write(answer);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('fake Redis has no port');
  return {
    port: address.port,
    commands,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
