import { ConfigError, type RedisClientsConfig } from '../../client/index.js';

/**
 * The app's Redis settings on Railway, from the variables of
 * deploy/railway/ha/app.env (Sentinels) or deploy/railway/single/app.env (one
 * URL): TLS material arrives as base64 PEM variables, because a Railway
 * service has no files but its image and volume. A missing or bad variable
 * throws ConfigError naming it.
 *
 * For example: `createRedisClients(railwayRedisConfig(process.env), { logger })`.
 */
export function railwayRedisConfig(env: Record<string, string | undefined>): RedisClientsConfig {
  const pem = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new ConfigError(name, 'missing: base64 of the PEM file');
    const text = Buffer.from(value, 'base64').toString('utf8');
    if (!text.includes('-----BEGIN ')) {
      throw new ConfigError(name, 'does not decode to a PEM file (base64 of the .crt/.key itself)');
    }
    return text;
  };
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new ConfigError(name, 'missing');
    return value;
  };
  const tls = {
    ca: pem('REDSCOPE_TLS_CA_B64'),
    cert: pem('REDSCOPE_TLS_CERT_B64'),
    key: pem('REDSCOPE_TLS_KEY_B64'),
    // Set when the name dialled is not in the certificate (a custom domain in front of a TCP proxy).
    ...(env.REDSCOPE_TLS_SERVERNAME ? { servername: env.REDSCOPE_TLS_SERVERNAME } : {}),
  };
  const credentials = {
    username: required('REDSCOPE_USERNAME'),
    password: required('REDSCOPE_PASSWORD'),
  };
  const url = env.REDSCOPE_REDIS_URL?.trim();
  if (url) return { url, tls, ...credentials };
  return {
    // `sentinel-1.railway.internal:26379,...`: resolved as IPv4 and IPv6 (legacy
    // Railway environments have IPv6 only); createRedisClients validates each one.
    sentinels: required('REDSCOPE_SENTINELS')
      .split(',')
      .map((s) => s.trim()),
    masterName: required('REDSCOPE_MASTER_NAME'),
    tls,
    ...credentials,
  };
}
