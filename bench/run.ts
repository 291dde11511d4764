/**
 * `npm run bench -- [name ...]`: runs bench/<name>.ts (all of them without a
 * name) and writes each result into BENCHMARKS.md between its markers, with the
 * command, the machine and the date, so the file always says where a number came from.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { packageRoot } from '../stack/repo-paths.js';

/** What every bench module exports: it runs and returns a Markdown section body. */
export type Bench = () => Promise<string>;

const here = dirname(fileURLToPath(import.meta.url));
const benchFile = join(packageRoot(), 'BENCHMARKS.md');

function available(): string[] {
  return readdirSync(here)
    .filter(
      (f) =>
        f.endsWith('.js') &&
        !['run.js', 'failover-partitions.js'].includes(f) &&
        !f.endsWith('.test.js'),
    )
    .map((f) => basename(f, '.js'))
    .filter((name) => !name.startsWith('support'))
    .sort();
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const memory = `${Math.round(totalmem() / 2 ** 30)} GiB`;
  return `${cpus().length} × ${cpu}, ${memory}, Node ${process.version}, ${process.platform}`;
}

/** Replaces (or appends) the section between `<!-- bench:NAME:start -->` and its end marker. */
export function spliceSection(document: string, name: string, body: string): string {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const section = `${start}\n${body.trim()}\n${end}`;
  const from = document.indexOf(start);
  const to = document.indexOf(end);
  if (from !== -1 && to > from) {
    return document.slice(0, from) + section + document.slice(to + end.length);
  }
  return `${document.trimEnd()}\n\n${section}\n`;
}

async function main(names: string[]): Promise<number> {
  const known = available();
  // `--flag value` pairs after the names belong to the benches (e.g. failover's --runs).
  const flagAt = names.findIndex((n) => n.startsWith('--'));
  const chosenNames = flagAt === -1 ? names : names.slice(0, flagAt);
  const chosen = chosenNames.length > 0 ? chosenNames : known;
  const unknown = chosen.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    process.stderr.write(
      `bench: unknown benchmark ${unknown.join(', ')}; known: ${known.join(', ')}\n`,
    );
    return 2;
  }
  let document = existsSync(benchFile)
    ? readFileSync(benchFile, 'utf8')
    : '# Benchmarks\n\nWritten by `npm run bench`; each section says how it was produced.\n';
  for (const name of chosen) {
    process.stderr.write(`bench: running ${name}...\n`);
    const module = (await import(pathToFileURL(join(here, `${name}.js`)).href)) as {
      default: Bench;
    };
    const started = new Date();
    const body = await module.default();
    const header =
      `## ${name}\n\n` +
      `Command: \`npm run bench -- ${name}\` · machine: ${machine()} · ` +
      `run: ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC\n\n`;
    document = spliceSection(document, name, header + body);
    writeFileSync(benchFile, document);
    process.stderr.write(`bench: ${name} written to BENCHMARKS.md\n`);
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // Exit (not die) on Ctrl-C or SIGTERM: the exit hooks stop every server a bench started
  // and remove its nftables rules.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => process.exit(130));
  process.exitCode = await main(process.argv.slice(2));
}
