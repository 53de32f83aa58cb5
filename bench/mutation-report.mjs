#!/usr/bin/env node
// Turns Stryker's JSON reports (reports/mutation/<group>.json, written by `npm run mutate`) into bench/results/mutation.md:
// the score per file and every surviving (or uncovered) mutant, each with the reason it is equivalent or harmless.
// Reasons live in bench/mutation-notes/<group>.json (one file per group, so work on two groups never edits one file), keyed by file, the original code and its replacement (not by line number,
// so they survive edits elsewhere in the file). A survivor without a reason is listed as "no reason recorded": that is a
// missing test until someone shows otherwise.
import { readFileSync, writeFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, basename } from 'node:path';
import { GROUPS } from './mutation-groups.mjs';

const root = new URL('..', import.meta.url).pathname;
const reportDir = join(root, 'reports/mutation');
const reportPaths = process.argv.length > 2
  ? process.argv.slice(2).map((p) => join(root, p))
  : readdirSync(reportDir)
    // scratch-*: a partial run over a few lines (MUTATION_GROUP=scratch-<name> npx stryker run --mutate file:lines) never
    // stands in for a group's full report.
    .filter((f) => f.endsWith('.json') && !f.startsWith('incremental-') && !f.startsWith('scratch-'))
    .map((f) => join(reportDir, f));
const notesDir = join(root, 'bench/mutation-notes');
const outPath = join(root, 'bench/results/mutation.md');
const TARGET = 90;

// Each group's report holds its own files; where two hold one file (a group's files changed), the newer report wins.
const files = {};
const runs = [];
for (const p of reportPaths.sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs)) {
  const r = JSON.parse(readFileSync(p, 'utf8'));
  runs.push(`${relative(root, p)} (${new Date(statSync(p).mtimeMs).toISOString().slice(0, 16)}Z)`);
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
out.push(`Reports: ${runs.join(', ')}.`, '');
const notRun = Object.keys(GROUPS).filter((g) => !reportPaths.some((p) => basename(p) === `${g}.json`));
if (notRun.length) out.push(`Groups with no report yet (not measured, not passed): ${notRun.map((g) => `${g} (${GROUPS[g].join(' ')})`).join(', ')}.`, '');
out.push('| file | score % | killed | timeout | survived | no coverage | errors | target |');
out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
for (const r of rows) {
  out.push(`| ${r.rel} | ${fmt(r.score)} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.noCoverage} | ${r.errors} | ${r.score >= TARGET ? 'met' : '**missed**'} |`);
}
const tv = totals.killed + totals.timeout + totals.survived + totals.noCoverage;
out.push(`| **all files** | ${fmt((100 * (totals.killed + totals.timeout)) / tv)} | ${totals.killed} | ${totals.timeout} | ${totals.survived} | ${totals.noCoverage} | ${totals.errors} | |`, '');
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
