/**
 * Whether a connection error is a TLS failure (handshake, certificate,
 * verification): by Node's and OpenSSL's error codes, else by the message
 * when a library rewrapped the error without its code. The one classifier for
 * the client's `redis.tls_error` lines and the exporter's `reason="tls"`.
 */
export function isTlsError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code !== '' && TLS_CODE.test(code)) return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return TLS_MESSAGE.test(message) && !/timed? ?out/i.test(message);
}

// Node's own TLS codes, OpenSSL's, and the X509 verification results Node passes on as codes
// (some, like PATH_LENGTH_EXCEEDED or CRL_HAS_EXPIRED, say nothing the message test would catch).
const TLS_CODE =
  /^(ERR_TLS_|ERR_SSL_|ERR_OSSL|CERT_|CRL_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED_CERT|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED|ERROR_IN_C(ERT|RL)_)/;
const TLS_MESSAGE = /\b(ssl|tls|certificate|handshake)\b|wrong version number|self[- ]signed/i;
