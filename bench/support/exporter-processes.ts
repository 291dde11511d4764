/**
 * The exporter benchmarks' view of a process under test: started, scraped over
 * keep-alive HTTP, and read from /proc (CPU, RSS, its peak, private memory).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

/** Linux USER_HZ: /proc/<pid>/stat counts CPU in these ticks. */
export const CLOCK_TICKS = 100;

export interface Exporter {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  stop(): void;
}

export const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ ms: number; body: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url} answered ${res.statusCode}`));
        else resolve({ ms: performance.now() - started, body: Buffer.concat(chunks).toString() });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

export interface Memory {
  readonly rss: number;
  readonly peak: number;
  readonly private: number;
}

/**
 * RSS, its peak, and the private part: RSS counts the pages of the node (or Go)
 * binary that every process running it shares, private memory is what this one
 * process alone costs the machine.
 */
export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (text: string, key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return {
    rss: kb(status, 'VmRSS'),
    peak: kb(status, 'VmHWM'),
    private: kb(rollup, 'Private_Clean') + kb(rollup, 'Private_Dirty'),
  };
}

export async function waitFor(url: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await get(url);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startProcess(
  name: string,
  command: string,
  args: string[],
  url: string,
): Promise<Exporter> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name} did not start`);
  await waitFor(url);
  return { name, url, pid, stop: () => child.kill('SIGTERM') };
}

export const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
export const fmt = (n: number, digits = 2) => n.toFixed(digits);
