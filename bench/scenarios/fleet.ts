/** Scenario 7: several scheduler processes on one Redis vs one. */
import type { Ctx } from '../lib/context.js';

export async function fleet(ctx: Ctx): Promise<void> {
  ctx.results.remark('fleet', 'Not wired yet.');
}
