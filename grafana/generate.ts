import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadThresholds } from '../bundle/thresholds.js';
import {
  buildDashboards,
  renderDashboard,
  updateVersionLock,
  type VersionLock,
} from './src/dashboards.js';
import { renderDashboardsDoc } from './src/dashboards-doc.js';

// `npm run generate`: grafana/src/*.ts -> grafana/dashboards/*.json (+ the version lock and
// the generated sections of docs/dashboards.md).
// It rewrites committed files of the source tree, so it writes next to itself.
const grafana = fileURLToPath(new URL('.', import.meta.url));
const dir = join(grafana, 'dashboards');
// Outside dashboards/: Grafana's file provider would try to load it as a dashboard.
const lockFile = join(grafana, 'versions.lock.json');
const thresholds = loadThresholds();
const dashboards = buildDashboards(thresholds);
const lock: VersionLock = existsSync(lockFile) ? JSON.parse(readFileSync(lockFile, 'utf8')) : {};
const nextLock = updateVersionLock(lock, Object.values(dashboards));
for (const [file, dashboard] of Object.entries(dashboards)) {
  writeFileSync(join(dir, file), renderDashboard(dashboard));
  process.stdout.write(`wrote grafana/dashboards/${file}\n`);
}
writeFileSync(lockFile, `${JSON.stringify(nextLock, null, 2)}\n`);
// The doc's generated sections: the annotations and the panels empty on a healthy stack.
const docFile = join(grafana, '..', 'docs', 'dashboards.md');
writeFileSync(docFile, renderDashboardsDoc(readFileSync(docFile, 'utf8'), thresholds));
process.stdout.write('wrote docs/dashboards.md (generated sections)\n');
