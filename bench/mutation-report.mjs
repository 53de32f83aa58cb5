#!/usr/bin/env node
// Turns each group's kept result (bench/results/mutation/<group>.json, written by `npm run mutate` from Stryker's report)
// into bench/results/mutation.md:
// the score per file and every surviving (or uncovered) mutant, each with the reason it is equivalent or harmless.
// Reasons live in bench/mutation-notes/<group>.json (one file per group, so work on two groups never edits one file), keyed by file, the original code and its replacement (not by line number,
// so they survive edits elsewhere in the file). A survivor without a reason is listed as "no reason recorded": that is a
// missing test until someone shows otherwise.
import { readFileSync, writeFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, basename } from 'node:path';
import { GROUPS } from './mutation-groups.mjs';

const root = new URL('..', import.meta.url).pathname;
const reportDir = join(root, 'bench/results/mutation');
// Only `npm run mutate` writes here: a scratch run (MUTATION_GROUP=scratch-<name> npx stryker run --mutate file:lines)
// writes only under reports/ and never stands in for a group's full result.
const reportPaths = process.argv.length > 2
  ? process.argv.slice(2).map((p) => join(root, p))
  : (existsSync(reportDir) ? readdirSync(reportDir) : []).filter((f) => f.endsWith('.json')).map((f) => join(reportDir, f));
const notesDir = join(root, 'bench/mutation-notes');
const outPath = join(root, 'bench/results/mutation.md');
const TARGET = 90;

// Each group's report holds its own files; where two hold one file (a group's files changed), the newer report wins.
const files = {};
const runs = [];
const loaded = reportPaths.map((p) => ({ p, r: JSON.parse(readFileSync(p, 'utf8')) }));
for (const { p, r } of loaded.sort((a, b) => (a.r.measuredAt ?? '').localeCompare(b.r.measuredAt ?? ''))) {
  runs.push(`${basename(p, '.json')} (${r.measuredAt ?? new Date(statSync(p).mtimeMs).toISOString().slice(0, 16) + 'Z'}, at ${r.commit ?? 'unknown commit'})`);
  for (const [path, file] of Object.entries(r.files)) files[path.startsWith('/') ? relative(root, path) : path] = file;
}
const report = { files };
const notes = {};
if (existsSync(notesDir)) {
  for (const f of readdirSync(notesDir).filter((n) => n.endsWith('.json')).sort()) {
    Object.assign(notes, JSON.parse(readFileSync(join(notesDir, f), 'utf8')));
  }
}

/** The source text a mutant replaced, from its location (lines and columns are 1-based, end column exclusive). */
export function originalText(source, location) {
  const lines = source.split('\n');
  const { start, end } = location;
  if (start.line === end.line) return lines[start.line - 1].slice(start.column - 1, end.column - 1);
  const parts = [lines[start.line - 1].slice(start.column - 1)];
  for (let l = start.line + 1; l < end.line; l++) parts.push(lines[l - 1]);
  parts.push(lines[end.line - 1].slice(0, end.column - 1));
  return parts.join('\n');
}

export function noteKey(file, original, replacement) {
  const squash = (s) => s.replace(/\s+/g, ' ').trim();
  return `${file} | ${squash(original)} => ${squash(replacement ?? '')}`;
}

const oneLine = (s, max = 90) => {
  const t = s.replace(/\s+/g, ' ').trim().replace(/\|/g, '\\|').replace(/`/g, "'");
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

const rows = [];
const survivors = [];
const usedNotes = new Set();
let totals = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0 };
for (const [path, file] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const rel = path.startsWith('/') ? relative(root, path) : path;
  const c = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0 };
  for (const m of file.mutants) {
    switch (m.status) {
      case 'Killed': c.killed++; break;
      case 'Timeout': c.timeout++; break;
      case 'Survived': c.survived++; break;
      case 'NoCoverage': c.noCoverage++; break;
      case 'CompileError': case 'RuntimeError': c.errors++; break;
      default: break; // Ignored / Pending
    }
    if (m.status === 'Survived' || m.status === 'NoCoverage') {
      const original = originalText(file.source, m.location);
      const key = noteKey(rel, original, m.replacement);
      const why = notes[key];
      if (why) usedNotes.add(key);
      survivors.push({ rel, line: m.location.start.line, mutator: m.mutatorName, status: m.status, original, replacement: m.replacement ?? '', why });
    }
  }
  const valid = c.killed + c.timeout + c.survived + c.noCoverage;
  const score = valid === 0 ? 100 : (100 * (c.killed + c.timeout)) / valid;
  rows.push({ rel, ...c, score });
  for (const k of Object.keys(totals)) totals[k] += c[k];
}

const fmt = (n) => n.toFixed(1);
const out = [];
out.push('# Mutation testing (StrykerJS)', '');
out.push('Written by `npm run mutate` (stryker.config.mjs; the unit tests in stryker.jest.config.js, jest runner, per-test coverage,');
out.push(`concurrency 2). Score = (killed + timed out) / (killed + timed out + survived + no coverage). Target: ${TARGET} % per file.`, '');
out.push(`Groups measured (bench/results/mutation/<group>.json; when, and at which commit): ${runs.join(', ')}.`, '');
const notRun = Object.keys(GROUPS).filter((g) => !reportPaths.some((p) => basename(p) === `${g}.json`));
if (notRun.length) out.push(`Groups with no report yet (not measured, not passed): ${notRun.map((g) => `${g} (${GROUPS[g].join(' ')})`).join(', ')}.`, '');
out.push('| file | score % | killed | timeout | survived | no coverage | errors | target |');
out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
for (const r of rows) {
  out.push(`| ${r.rel} | ${fmt(r.score)} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.noCoverage} | ${r.errors} | ${r.score >= TARGET ? 'met' : '**missed**'} |`);
}
const tv = totals.killed + totals.timeout + totals.survived + totals.noCoverage;
out.push(`| **all files** | ${tv === 0 ? '–' : fmt((100 * (totals.killed + totals.timeout)) / tv)} | ${totals.killed} | ${totals.timeout} | ${totals.survived} | ${totals.noCoverage} | ${totals.errors} | |`, '');
out.push('## Surviving mutants', '');
if (survivors.length === 0) out.push('None.');
else {
  out.push('| file:line | mutator | original | replacement | status | why it is equivalent or harmless |');
  out.push('| --- | --- | --- | --- | --- | --- |');
  for (const s of survivors) {
    out.push(`| ${s.rel}:${s.line} | ${s.mutator} | \`${oneLine(s.original)}\` | \`${oneLine(s.replacement)}\` | ${s.status} | ${s.why ? oneLine(s.why, 400) : '**no reason recorded**'} |`);
  }
}
out.push('');
writeFileSync(outPath, out.join('\n'));
const unexplained = survivors.filter((s) => !s.why).length;
console.log(`wrote ${relative(root, outPath)}: ${rows.length} files, ${survivors.length} survivors (${unexplained} without a recorded reason)`);
const stale = Object.keys(notes).filter((k) => !usedNotes.has(k));
if (stale.length) console.log(`${stale.length} notes in bench/mutation-notes/ match no survivor (killed since, or the code moved on)`);
