import type { Thresholds } from '../../bundle/thresholds.js';
import { redscopeAnnotations } from './annotations.js';
import { renderEmptyWhenHealthy } from './empty-when-healthy.js';

/**
 * docs/dashboards.md is written by hand but for its generated sections, which
 * `npm run generate` rewrites from the objects the dashboards and the live check use.
 */
const begin = (name: string) => `<!-- BEGIN GENERATED ${name}: npm run generate -->`;
const end = (name: string) => `<!-- END GENERATED ${name} -->`;

/** Thrown when the doc lost the markers of a generated section. */
export class MissingDocSectionError extends Error {
  constructor(name: string) {
    super(
      `docs/dashboards.md has no generated section "${name}": put the lines\n${begin(name)}\n${end(name)}\nwhere it goes`,
    );
    this.name = 'MissingDocSectionError';
  }
}

function renderAnnotations(t: Thresholds): string {
  const rows = redscopeAnnotations(t).map(
    (a) => `| ${a.name} (${a.iconColor}) | ${a.description} | \`${a.titleFormat}\` |`,
  );
  return ['| Annotation | Marks | Title |', '|---|---|---|', ...rows, ''].join('\n');
}

/** The generated sections of docs/dashboards.md, by name. */
export function dashboardsDocSections(t: Thresholds): Record<string, string> {
  return {
    annotations: renderAnnotations(t),
    'empty-when-healthy': renderEmptyWhenHealthy(t),
  };
}

/** `doc` with every generated section replaced by its current content. */
export function renderDashboardsDoc(doc: string, t: Thresholds): string {
  let out = doc;
  for (const [name, content] of Object.entries(dashboardsDocSections(t))) {
    const from = out.indexOf(begin(name));
    const to = out.indexOf(end(name));
    if (from < 0 || to < from) throw new MissingDocSectionError(name);
    out = `${out.slice(0, from)}${begin(name)}\n${content}${out.slice(to)}`;
  }
  return out;
}
