/** Collected measurements of one benchmark invocation. */
import { median } from './stats.js';

/** Which way is better for a metric. */
export type Better = 'higher' | 'lower';

/** One measured quantity of one side of one scenario, with its value in every run. */
export interface Row {
  readonly scenario: string;
  /** Who is measured, e.g. `ours: RedisStore.restart` or `BullMQ job.changeDelay`. */
  readonly side: string;
  /** What is measured, e.g. `restarts/s`. */
  readonly metric: string;
  readonly unit: string;
  readonly better: Better;
  /** True for this library's rows. */
  readonly ours: boolean;
  /** One value per run. */
  readonly values: number[];
  /** Extra facts shown next to the row (e.g. failures, duplicates). */
  notes: string[];
}

/** All rows of one invocation. */
export class Results {
  readonly rows: Row[] = [];
  /** Free-form remarks per scenario (e.g. a side that could not run). */
  readonly remarks = new Map<string, string[]>();

  /** Adds one run's value for (scenario, side, metric). */
  record(scenario: string, side: string, metric: string, value: number, opts: { unit: string; better: Better; ours: boolean }): void {
    let row = this.rows.find((r) => r.scenario === scenario && r.side === side && r.metric === metric);
    if (!row) {
      row = { scenario, side, metric, unit: opts.unit, better: opts.better, ours: opts.ours, values: [], notes: [] };
      this.rows.push(row);
    }
    row.values.push(value);
  }

  /** Adds a note to a row (once). */
  note(scenario: string, side: string, metric: string, text: string): void {
    const row = this.rows.find((r) => r.scenario === scenario && r.side === side && r.metric === metric);
    if (row && !row.notes.includes(text)) row.notes.push(text);
  }

  /** Adds a scenario-level remark. */
  remark(scenario: string, text: string): void {
    const list = this.remarks.get(scenario) ?? [];
    if (!list.includes(text)) list.push(text);
    this.remarks.set(scenario, list);
  }

  /** Median over runs, or undefined when not measured. */
  median(scenario: string, side: string, metric: string): number | undefined {
    const row = this.rows.find((r) => r.scenario === scenario && r.side === side && r.metric === metric);
    return row && row.values.length > 0 ? median(row.values) : undefined;
  }

  /** Rows of one scenario, in recording order. */
  of(scenario: string): Row[] {
    return this.rows.filter((r) => r.scenario === scenario);
  }
}
