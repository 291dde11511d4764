import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadThresholds } from '../bundle/thresholds.js';
import { renderRuleFiles } from './src/rule-files.js';

// `npm run generate`: prometheus/thresholds.yaml -> prometheus/rules/*.yml.
// It rewrites committed files of the source tree, so it writes next to itself.
const dir = fileURLToPath(new URL('.', import.meta.url));
const files = renderRuleFiles(loadThresholds());
for (const [path, text] of Object.entries(files)) {
  writeFileSync(join(dir, path), text);
  process.stdout.write(`wrote prometheus/${path}\n`);
}
