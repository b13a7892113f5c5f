/**
 * Dependency-free SVG bar charts for docs/benchmarks.md: horizontal bars, one group per side, one bar
 * per series, value labels at the end of each bar.
 */

/** One group of bars (one side of a comparison). */
export interface BarGroup {
  readonly label: string;
  /** Highlighted in the library's colour. */
  readonly ours: boolean;
  /** One value per series; `undefined` when not measured. */
  readonly values: ReadonlyArray<number | undefined>;
}

/** A chart: title, series names, groups. */
export interface BarChart {
  readonly title: string;
  readonly subtitle?: string;
  readonly series: readonly string[];
  readonly groups: readonly BarGroup[];
  /** Formats a value label. */
  readonly format: (value: number) => string;
}

const OURS = ['#1f6feb', '#58a6ff', '#0b3d91'];
const THEIRS = ['#8b949e', '#c9d1d9', '#57606a'];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Renders a chart as a standalone SVG document. */
export function renderBarChart(chart: BarChart): string {
  const width = 1000;
  const labelWidth = 420;
  const valueWidth = 110;
  const barHeight = 16;
  const barGap = 3;
  const groupGap = 12;
  const top = chart.subtitle ? 58 : 40;
  const legendHeight = chart.series.length > 1 ? 22 : 0;
  const plotWidth = width - labelWidth - valueWidth - 20;
  const max = Math.max(
    1e-9,
    ...chart.groups.flatMap((g) => g.values.filter((v): v is number => v !== undefined && Number.isFinite(v))),
  );
  const groupHeight = chart.series.length * (barHeight + barGap) - barGap;
  const height = top + legendHeight + chart.groups.length * (groupHeight + groupGap) + 10;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold" fill="#24292f">${escape(chart.title)}</text>`,
  );
  if (chart.subtitle) parts.push(`<text x="10" y="42" fill="#57606a">${escape(chart.subtitle)}</text>`);
  let y = top;
  if (legendHeight > 0) {
    let x = labelWidth;
    chart.series.forEach((name, s) => {
      parts.push(`<rect x="${x}" y="${y}" width="12" height="12" fill="${THEIRS[s % THEIRS.length]}"/>`);
      parts.push(`<rect x="${x + 12}" y="${y}" width="12" height="12" fill="${OURS[s % OURS.length]}"/>`);
      parts.push(`<text x="${x + 30}" y="${y + 11}" fill="#24292f">${escape(name)}</text>`);
      x += 40 + name.length * 7;
    });
    y += legendHeight;
  }
  for (const group of chart.groups) {
    const labelY = y + groupHeight / 2 + 4;
    parts.push(
      `<text x="${labelWidth - 8}" y="${labelY}" text-anchor="end" fill="#24292f"${group.ours ? ' font-weight="bold"' : ''}>${escape(group.label)}</text>`,
    );
    group.values.forEach((value, s) => {
      const barY = y + s * (barHeight + barGap);
      const colour = (group.ours ? OURS : THEIRS)[s % OURS.length];
      if (value === undefined || !Number.isFinite(value)) {
        parts.push(`<text x="${labelWidth + 4}" y="${barY + 12}" fill="#57606a">not measured</text>`);
        return;
      }
      const w = Math.max(1, (value / max) * plotWidth);
      parts.push(`<rect x="${labelWidth}" y="${barY}" width="${w.toFixed(1)}" height="${barHeight}" fill="${colour}"/>`);
      parts.push(`<text x="${(labelWidth + w + 5).toFixed(1)}" y="${barY + 12}" fill="#24292f">${escape(chart.format(value))}</text>`);
    });
    y += groupHeight + groupGap;
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
