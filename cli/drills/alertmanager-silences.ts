/**
 * Silences through Alertmanager's v2 API (api/v2/openapi.yaml of
 * prometheus/alertmanager): create, list, read, expire. Plain fetch: four
 * calls do not justify a generated client and its dependencies.
 */
import type { SilenceMatcher } from './silence-input.js';

/** One request, connect to last byte: an on-call engineer should not wait longer on a hung Alertmanager. */
export const REQUEST_TIMEOUT_MS = 5000;

export type SilenceState = 'active' | 'pending' | 'expired';

/** `gettableSilence` of the spec. */
export interface Silence {
  readonly id: string;
  readonly status: { readonly state: SilenceState };
  readonly updatedAt: string;
  readonly matchers: readonly SilenceMatcher[];
  readonly startsAt: string;
  readonly endsAt: string;
  readonly createdBy: string;
  readonly comment: string;
}

/** `postableSilence` of the spec (no id: a new silence). */
export interface NewSilence {
  readonly matchers: readonly SilenceMatcher[];
  readonly startsAt: string;
  readonly endsAt: string;
  readonly createdBy: string;
  readonly comment: string;
}

/** Alertmanager could not be reached, did not answer in time, or refused; the message names the URL. */
export class AlertmanagerError extends Error {
  override readonly name = 'AlertmanagerError';
}

/** The --alertmanager-url is not an http(s) URL; the message says why. */
export class AlertmanagerUrlError extends Error {
  override readonly name = 'AlertmanagerUrlError';
}

/** Alertmanager's silence ids are UUIDs; anything else it answers with a 422. */
const SILENCE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isSilenceId(text: string): boolean {
  return SILENCE_ID.test(text);
}

/**
 * The API of one Alertmanager. The base URL may carry a path (a
 * `--web.route-prefix`, a reverse proxy) and basic-auth credentials, which
 * go into an Authorization header and never into a message.
 */
export class AlertmanagerSilences {
  /** The base URL without credentials or trailing slash: what messages show. */
  readonly url: string;
  private readonly authorization: string | undefined;

  constructor(
    baseUrl: string,
    private readonly timeoutMs = REQUEST_TIMEOUT_MS,
  ) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new AlertmanagerUrlError('not a URL; expected http://host:port');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new AlertmanagerUrlError(
        `scheme "${url.protocol.slice(0, -1)}" is not allowed; use http:// or https://`,
      );
    }
    if (url.search !== '' || url.hash !== '') {
      throw new AlertmanagerUrlError('must not carry a query string or fragment');
    }
    if (url.username !== '' || url.password !== '') {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      this.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    this.url = url.href.replace(/\/+$/, '');
  }

  /** Every silence Alertmanager still holds (expired ones too, until its retention drops them). */
  async list(): Promise<Silence[]> {
    const body = await this.request('GET', '/api/v2/silences');
    if (!Array.isArray(body) || !body.every(isSilence)) {
      throw new AlertmanagerError(
        `Alertmanager at ${this.url} answered GET /api/v2/silences with something that is not a list of silences`,
      );
    }
    return body;
  }

  /** The silence, or undefined when Alertmanager has none with that id. */
  async get(id: string): Promise<Silence | undefined> {
    const body = await this.request('GET', `/api/v2/silence/${encodeURIComponent(id)}`, {
      notFound: true,
    });
    if (body === NOT_FOUND) return undefined;
    if (!isSilence(body)) {
      throw new AlertmanagerError(
        `Alertmanager at ${this.url} answered GET /api/v2/silence/${id} with something that is not a silence`,
      );
    }
    return body;
  }

  /** Creates the silence; resolves with its id. */
  async create(silence: NewSilence): Promise<string> {
    const body = await this.request('POST', '/api/v2/silences', { json: silence });
    const id = (body as { silenceID?: unknown } | null)?.silenceID;
    if (typeof id !== 'string') {
      throw new AlertmanagerError(
        `Alertmanager at ${this.url} answered POST /api/v2/silences without a silenceID`,
      );
    }
    return id;
  }

  /** Expires the silence now (the API calls it DELETE; Alertmanager keeps it as expired). */
  async expire(id: string): Promise<void> {
    await this.request('DELETE', `/api/v2/silence/${encodeURIComponent(id)}`);
  }

  private async request(
    method: string,
    path: string,
    options: { json?: unknown; notFound?: boolean } = {},
  ): Promise<unknown> {
    const where = `Alertmanager at ${this.url}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.authorization) headers.authorization = this.authorization;
    if (options.json !== undefined) headers['content-type'] = 'application/json';
    const signal = AbortSignal.timeout(this.timeoutMs);
    let text: string;
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers,
        signal,
        redirect: 'error',
        ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
      });
      text = await response.text();
    } catch (error) {
      throw new AlertmanagerError(this.unreachable(error), { cause: error });
    }
    if (options.notFound && response.status === 404) return NOT_FOUND;
    if (!response.ok) {
      throw new AlertmanagerError(
        `${where} refused ${method} ${path}: ${response.status} ${response.statusText}${bodyHint(text)}`,
      );
    }
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new AlertmanagerError(
        `${where} answered ${method} ${path} with something that is not JSON${bodyHint(text)}`,
      );
    }
  }

  private unreachable(error: unknown): string {
    const e = error as { name?: string; cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError') {
      return `Alertmanager at ${this.url} did not answer within ${this.timeoutMs / 1000} s`;
    }
    const reason = e.cause?.code ?? e.cause?.message ?? (error as Error).message;
    return `cannot reach Alertmanager at ${this.url} (${reason})`;
  }
}

const NOT_FOUND = Symbol('not found');

/** Alertmanager explains a refusal in its body ("silence invalid: ..."): the first line of it. */
function bodyHint(text: string): string {
  let hint = text.trim();
  try {
    const parsed = JSON.parse(hint) as unknown;
    if (typeof parsed === 'string') hint = parsed;
    else if (typeof (parsed as { message?: unknown })?.message === 'string') {
      hint = (parsed as { message: string }).message;
    }
  } catch {
    // Not JSON: show it as text.
  }
  hint = (hint.split('\n')[0] ?? '').replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
  return hint === '' ? '' : `: ${hint}`;
}

function isSilence(value: unknown): value is Silence {
  const s = value as Partial<Silence> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.id === 'string' &&
    typeof s.status?.state === 'string' &&
    Array.isArray(s.matchers) &&
    typeof s.startsAt === 'string' &&
    typeof s.endsAt === 'string' &&
    typeof s.createdBy === 'string' &&
    typeof s.comment === 'string'
  );
}
