// redscope on Railway: the Sentinel restart of `redscope rotate-certs`
// (rotation-plan.yaml's sentinelRestartCommand). A Sentinel reads its TLS files
// only when it starts, and from inside Railway's private network the way to
// start one again is to stop it: its restart policy (ALWAYS, redis.railway.json)
// starts the container's process again, and the entrypoint gives Sentinel the
// files now on its volume. rotate-certs checks the quorum before and waits for
// the Sentinel to answer and rejoin its peers after.
//
// Dependency-free (node:tls) so it runs from any folder of the exporter's
// container. rotate-certs passes REDSCOPE_HOST and REDSCOPE_PORT; the TLS files
// it presents are REDSCOPE_ROTATION_{CA,CERT,KEY} (default: the exporter's own,
// which its start command writes to /tmp/redscope).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect } from 'node:tls';

const host = process.env.REDSCOPE_HOST;
const port = Number(process.env.REDSCOPE_PORT);
const files = {
  ca: process.env.REDSCOPE_ROTATION_CA ?? '/tmp/redscope/ca.crt',
  cert: process.env.REDSCOPE_ROTATION_CERT ?? '/tmp/redscope/client.crt',
  key: process.env.REDSCOPE_ROTATION_KEY ?? '/tmp/redscope/client.key',
};

function fail(message) {
  process.stderr.write(`sentinel-restart: ${message}\n`);
  process.exit(1);
}

if (!host || !Number.isInteger(port))
  fail('REDSCOPE_HOST and REDSCOPE_PORT must name the Sentinel');
const tls = {};
for (const [name, file] of Object.entries(files)) {
  try {
    tls[name] = readFileSync(file);
  } catch (error) {
    fail(`cannot read ${file} (${error.code ?? error.message})`);
  }
}

// A Sentinel answers SHUTDOWN by closing the connection; an error reply means it refused.
// SNI takes host names only; for an IP address the certificate's IP SAN is checked.
const socket = connect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...tls });
const timer = setTimeout(
  () => fail(`${host}:${port} did not close within 5 s after SHUTDOWN`),
  5000,
);
let reply = '';
socket.once('secureConnect', () => socket.write('*1\r\n$8\r\nSHUTDOWN\r\n'));
socket.on('data', (chunk) => {
  reply += chunk.toString();
});
socket.once('error', (error) => {
  // ECONNRESET after SHUTDOWN is the process going away; before the handshake it is a failure.
  if (!socket.authorized) fail(`${host}:${port}: ${error.message}`);
});
socket.once('close', () => {
  clearTimeout(timer);
  if (reply.startsWith('-')) fail(`${host}:${port} refused SHUTDOWN: ${reply.trim()}`);
  process.stdout.write(
    `sentinel-restart: ${host}:${port} stopped; its restart policy starts it again\n`,
  );
});
