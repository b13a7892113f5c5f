/** Writes docs/benchmarks.md and its SVG charts from one invocation's results. */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { Results, Row } from './results.js';
import type { TargetOutcome } from './targets.js';
import { renderBarChart, type BarChart } from './svg.js';
import { fmt, fmtRatio, median } from './stats.js';
import type { BenchConfig } from './config.js';

/** A documented scenario: what it measures and which side is the baseline for its ratio column. */
export interface ScenarioDoc {
  readonly key: string;
  readonly title: string;
  readonly description: string;
  /** Label of the side ratios are computed against. */
  readonly baseline: string;
  /** Metrics to chart (one chart, one series per metric). */
  readonly chartMetrics: readonly string[];
  /** A second chart (its own scale), e.g. the event-loop stall of a storm. */
  readonly secondChart?: { readonly suffix: string; readonly title: string; readonly metrics: readonly string[] };
}

/** Facts about the machine and versions. */
export interface Environment {
  readonly command: string;
  readonly date: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memory: string;
  readonly os: string;
  readonly node: string;
  readonly redis: string;
  readonly versions: Readonly<Record<string, string>>;
  readonly commit: string;
  readonly durationS: number;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function sidesOf(rows: readonly Row[]): string[] {
  const seen: string[] = [];
  for (const r of rows) if (!seen.includes(r.side)) seen.push(r.side);
  return seen;
}

function metricsOf(rows: readonly Row[]): string[] {
  const seen: string[] = [];
  for (const r of rows) if (!seen.includes(r.metric)) seen.push(r.metric);
  return seen;
}

function metricHeader(rows: readonly Row[], metric: string): string {
  const unit = rows.find((r) => r.metric === metric)?.unit ?? '';
  return unit && unit !== metric ? `${metric} (${unit})` : metric;
}

/**
 * Two sides: one row per metric (medians of both, the ratio, every run), which stays readable with
 * many metrics.
 */
function pairTable(results: Results, doc: ScenarioDoc, sides: string[]): string {
  const rows = results.of(doc.key);
  const [a, b] = sides[0] === doc.baseline ? [sides[1]!, sides[0]!] : [sides[0]!, sides[1]!];
  const bold = (side: string): string => (rows.find((r) => r.side === side)?.ours ? `**${side}**` : side);
  const header = ['Metric (median)', bold(a), bold(b), 'ratio', `runs: ${a}`, `runs: ${b}`];
  const body = metricsOf(rows).map((metric) => {
    const ra = rows.find((r) => r.side === a && r.metric === metric);
    const rb = rows.find((r) => r.side === b && r.metric === metric);
    const ma = ra ? median(ra.values) : undefined;
    const mb = rb ? median(rb.values) : undefined;
    const notes = [...(ra?.notes ?? []), ...(rb?.notes ?? [])];
    return [
      metricHeader(rows, metric) + (notes.length ? ` ⚠︎ ${notes.join('; ')}` : ''),
      ma === undefined ? '–' : fmt(ma),
      mb === undefined ? '–' : fmt(mb),
      ma === undefined || mb === undefined || mb === 0 ? '–' : fmtRatio(ma / mb),
      ra ? ra.values.map((v) => fmt(v)).join(' / ') : '–',
      rb ? rb.values.map((v) => fmt(v)).join(' / ') : '–',
    ];
  });
  return table(header, body);
}

/** Markdown table of one scenario: medians, ratio to the baseline per metric, every run's value. */
function scenarioTable(results: Results, doc: ScenarioDoc): string {
  const rows = results.of(doc.key);
  const sides = sidesOf(rows);
  if (sides.length === 2 && sides.includes(doc.baseline)) return pairTable(results, doc, sides);
  const metrics = metricsOf(rows);
  const header = ['Side', ...metrics.flatMap((m) => [`${metricHeader(rows, m)}, median`, 'vs baseline']), 'runs (first metric)'];
  const body = sidesOf(rows).map((side) => {
    const sideRows = rows.filter((r) => r.side === side);
    const ours = sideRows[0]?.ours ?? false;
    const cells = [ours ? `**${side}**` : side];
    for (const metric of metrics) {
      const row = sideRows.find((r) => r.metric === metric);
      const base = results.median(doc.key, doc.baseline, metric);
      if (!row) {
        cells.push('–', '–');
        continue;
      }
      const m = median(row.values);
      cells.push(fmt(m) + (row.notes.length ? ` ⚠︎ ${row.notes.join('; ')}` : ''));
      cells.push(side === doc.baseline || base === undefined ? '1×' : base === 0 ? '–' : fmtRatio(m / base));
    }
    const first = sideRows.find((r) => r.metric === metrics[0]);
    cells.push(first ? first.values.map((v) => fmt(v)).join(' / ') : '–');
    return cells;
  });
  return table(header, body);
}

function chartFor(results: Results, doc: ScenarioDoc, config: BenchConfig, metrics = doc.chartMetrics, title = doc.title): BarChart | undefined {
  const rows = results.of(doc.key);
  if (rows.length === 0) return undefined;
  const sides = sidesOf(rows);
  const unit = rows.find((r) => r.metric === metrics[0])?.unit ?? '';
  return {
    title,
    subtitle: `median of ${config.runs} runs; ${metrics.map((m) => metricHeader(rows, m)).join(', ')}`,
    series: metrics,
    groups: sides.map((side) => ({
      label: side,
      ours: rows.find((r) => r.side === side)?.ours ?? false,
      values: metrics.map((m) => results.median(doc.key, side, m)),
    })),
    format: (v) => `${fmt(v)}${unit && !unit.includes('/') ? ` ${unit}` : ''}`,
  };
}

/** Writes the report and charts; returns the Markdown. */
export function writeReport(options: {
  readonly results: Results;
  readonly targets: readonly TargetOutcome[];
  readonly docs: readonly ScenarioDoc[];
  readonly env: Environment;
  readonly config: BenchConfig;
  readonly out: string;
  readonly notesFile: string;
}): string {
  const { results, targets, docs, env, config, out } = options;
  const chartDir = join(dirname(out), basename(out, '.md'));
  mkdirSync(chartDir, { recursive: true });
  const parts: string[] = [];
  parts.push(
    '# Benchmarks',
    '',
    `<!-- Generated by bench/run.ts (\`npm run bench\`); edit bench/, not this file. -->`,
    '',
    `Both sides of every comparison ran **in the same invocation on the same machine**, each side in its own`,
    `Node process, runs interleaved side by side (run 1 of every side, then run 2, …). Figures are medians of`,
    `${config.runs} runs; ratios compare medians from this one invocation. Absolute numbers drift on a shared`,
    `2-core machine; the ratios are what the targets are about.`,
    '',
    `Command: \`${env.command}\` (${fmt(env.durationS, 0)} s), ${env.date}, commit \`${env.commit}\`.`,
    '',
    '## Targets',
    '',
    table(
      ['#', 'Target', 'Result (same run)', 'Met?'],
      targets.map((t) => [
        t.id,
        t.target,
        t.result,
        t.met === undefined ? 'not measured' : t.met ? '**met**' : '**NOT met**',
      ]),
    ),
    '',
    `Met: ${targets.filter((t) => t.met === true).length} of ${targets.length}; not met: ${targets.filter((t) => t.met === false).length}` +
      `${targets.some((t) => t.met === undefined) ? `; not measured: ${targets.filter((t) => t.met === undefined).length}` : ''}.`,
    '',
  );
  if (existsSync(options.notesFile)) {
    parts.push(readFileSync(options.notesFile, 'utf8').trim(), '');
  }
  parts.push(
    '## Machine and versions',
    '',
    table(
      ['What', 'Value'],
      [
        ['CPU', `${env.cpu}, ${env.cores} cores`],
        ['Memory', env.memory],
        ['OS', env.os],
        ['Node.js', env.node],
        ['redis-server', `${env.redis} (private instance on 127.0.0.1, \`--save '' --appendonly no\`)`],
        ...Object.entries(env.versions).map(([name, version]) => [name, version]),
      ],
    ),
    '',
    '## Sizes',
    '',
    table(
      ['Setting (flag)', 'Value'],
      Object.entries(config)
        .filter(([, value]) => typeof value === 'number')
        .map(([key, value]) => [`\`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}\``, fmt(value as number, 0)]),
    ),
    '',
  );
  for (const doc of docs) {
    const rows = results.of(doc.key);
    parts.push(`## ${doc.title}`, '', doc.description, '');
    if (rows.length === 0) {
      parts.push('_Not run in this invocation._', '');
      continue;
    }
    parts.push(scenarioTable(results, doc), '');
    for (const remark of results.remarks.get(doc.key) ?? []) parts.push(`- ${remark}`);
    if (results.remarks.has(doc.key)) parts.push('');
    const chart = chartFor(results, doc, config);
    if (chart) {
      const file = join(chartDir, `${doc.key}.svg`);
      writeFileSync(file, renderBarChart(chart));
      parts.push(`![${doc.title}](${relative(dirname(out), file)})`, '');
    }
    const second = doc.secondChart && chartFor(results, doc, config, doc.secondChart.metrics, doc.secondChart.title);
    if (second && doc.secondChart) {
      const file = join(chartDir, `${doc.key}-${doc.secondChart.suffix}.svg`);
      writeFileSync(file, renderBarChart(second));
      parts.push(`![${doc.secondChart.title}](${relative(dirname(out), file)})`, '');
    }
  }
  const markdown = `${parts.join('\n').trimEnd()}\n`;
  writeFileSync(out, markdown);
  writeFileSync(
    join(chartDir, 'results.json'),
    `${JSON.stringify({ env, config, targets, rows: results.rows, remarks: [...results.remarks] }, null, 2)}\n`,
  );
  return markdown;
}
