import type { ErrorObject, ValidateFunction } from 'ajv';
import yaml from 'js-yaml';
import { PATTERN_DESCRIPTIONS } from './config-schema.js';

/**
 * A setting is wrong. The message names the key (as the user spelled it: flag,
 * env var or YAML key), the value, and what is allowed. Secrets are never
 * echoed: only paths to them are settings.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Turns ajv's first error into a ConfigError naming key, value and what is allowed. */
export function configErrorFrom(
  error: ErrorObject,
  root: unknown,
  describeKey: (path: string) => string,
  allowedKeys: (path: string) => readonly string[],
): ConfigError {
  const path = error.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (error.keyword === 'additionalProperties') {
    const extra = String((error.params as { additionalProperty: string }).additionalProperty);
    const key = path === '' ? extra : `${path}.${extra}`;
    return new ConfigError(
      `${describeKey(key)}: unknown key; allowed keys${path ? ` under ${path}` : ''}: ${allowedKeys(path).join(', ')}`,
    );
  }
  const value = valueAt(root, error.instancePath);
  // A password of the wrong type (YAML reads `password: 123456` as a number) is still a secret.
  const secret = /(^|\.)(password|pass|secret|token)[^.]*$/i.test(path);
  const shown =
    value === undefined ? '(missing)' : secret ? '(hidden: a secret)' : JSON.stringify(value);
  let allowed = error.message ?? 'a different value';
  if (error.keyword === 'enum') {
    allowed = `one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  } else if (error.keyword === 'pattern') {
    // A regex says what is allowed to a machine; the schema's description says it to a person.
    const pattern = String((error.params as { pattern?: unknown }).pattern);
    allowed = PATTERN_DESCRIPTIONS.get(pattern) ?? allowed;
  } else if (error.keyword === 'required') {
    const missing = String((error.params as { missingProperty: string }).missingProperty);
    return new ConfigError(`${describeKey(path ? `${path}.${missing}` : missing)}: is required`);
  }
  return new ConfigError(
    `${describeKey(path)}: value ${shown} is not allowed; expected ${allowed}`,
  );
}

function valueAt(root: unknown, pointer: string): unknown {
  let current: unknown = root;
  for (const part of pointer.split('/').slice(1)) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/**
 * Loads a YAML file the exporter reads (credentials, web config) and checks it
 * against its schema: a ConfigError naming the file and the key, or the value.
 */
export function loadYamlFile<T>(
  path: string,
  readFile: (path: string) => string,
  origin: string,
  validate: ValidateFunction,
  allowedKeys: (path: string) => readonly string[],
): T {
  let parsed: unknown;
  try {
    parsed = yaml.load(readFile(path), { filename: path }) ?? {};
  } catch (error) {
    throw new ConfigError(
      `${origin}: cannot load ${path}: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  const first = validate(parsed) ? undefined : validate.errors?.[0];
  if (first) throw configErrorFrom(first, parsed, (key) => `${key} in ${path}`, allowedKeys);
  return parsed as T;
}
