import { family } from '../exposition.js';
import type { Collector } from './types.js';

const certificateExpiry = family({
  name: 'redscope_tls_certificate_expiry_timestamp_seconds',
  type: 'gauge',
  help: "Expiry (notAfter) of the target's TLS certificate, seconds since epoch",
  labels: ['cn'],
  source: 'TLS handshake: peer certificate notAfter and subject CN',
});

export const tlsCollector: Collector = {
  name: 'tls',
  modes: ['redis', 'sentinel'],
  commands: [],
  families: [certificateExpiry],
  collect(context, sink) {
    const peer = context.connection.tlsPeer;
    if (peer) sink.add(certificateExpiry, peer.notAfterSeconds, peer.cn);
  },
};
