import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../stack/repo-paths.js';
import { renderRuleFiles } from './src/rule-files.js';
import { loadThresholds } from './src/thresholds.js';

// `npm run generate`: prometheus/thresholds.yaml -> prometheus/rules/*.yml.
const dir = join(packageRoot(), 'prometheus');
const files = renderRuleFiles(loadThresholds(join(dir, 'thresholds.yaml')));
for (const [path, text] of Object.entries(files)) {
  writeFileSync(join(dir, path), text);
  process.stdout.write(`wrote prometheus/${path}\n`);
}
