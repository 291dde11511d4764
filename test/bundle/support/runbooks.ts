import { readFileSync } from 'node:fs';
import { repoPath } from './bundle.js';

export const REQUIRED_SECTIONS = ['Meaning', 'Impact', 'Diagnosis', 'Mitigation'] as const;

export interface Runbook {
  readonly file: string;
  readonly title: string;
  /** Text between the title and the first section (the severity line lives here). */
  readonly preamble: string;
  /** `## Heading` -> the text under it. */
  readonly sections: Map<string, string>;
}

export function parseRunbook(file: string, text: string): Runbook {
  const title = /^# (.+)$/m.exec(text)?.[1]?.trim() ?? '';
  const sections = new Map<string, string>();
  const [head = '', ...parts] = text.split(/^## /m);
  const preamble = head.replace(/^# .*$/m, '').trim();
  for (const part of parts) {
    const newline = part.indexOf('\n');
    sections.set(part.slice(0, newline).trim(), part.slice(newline + 1));
  }
  return { file, title, preamble, sections };
}

export function readRunbook(file: string): Runbook {
  return parseRunbook(file, readFileSync(repoPath('runbooks', file), 'utf8'));
}

/** Fenced code blocks of a given language in some Markdown text. */
export function codeBlocks(markdown: string, language: string): string[] {
  const blocks: string[] = [];
  const fence = new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\``, 'gm');
  for (const match of markdown.matchAll(fence)) if (match[1] !== undefined) blocks.push(match[1]);
  return blocks;
}

/** The lines of `sh` blocks in `markdown` that call one of the README's shell functions `helpers`. */
export function helperCommands(markdown: string, helpers: readonly string[]): string[] {
  return codeBlocks(markdown, 'sh')
    .flatMap((block) => block.split('\n'))
    .map((line) => line.trim())
    .filter((line) => helpers.some((helper) => line.startsWith(`${helper} `)));
}

/** The `rcli ...`/`scli ...` lines (or those of `helpers`) of a Diagnosis section: the commands the tests run. */
export function diagnosisCommands(
  runbook: Runbook,
  helpers: readonly string[] = ['rcli', 'scli'],
): string[] {
  return helperCommands(runbook.sections.get('Diagnosis') ?? '', helpers);
}
