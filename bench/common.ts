import * as fs from 'fs';
import * as path from 'path';

export const ROOT = path.join(__dirname, '..');

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Writes bench/results/<name>.json and <name>.md. */
export function writeResults(name: string, json: unknown, markdown: string): void {
  const dir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(json, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, `${name}.md`), markdown.trimEnd() + '\n');
  console.log(markdown);
}
