/** Scenario 6: HTTP restart through the adapters vs bare servers (autocannon). */
import type { Ctx } from '../lib/context.js';

export async function http(ctx: Ctx): Promise<void> {
  ctx.results.remark('http-express', 'Not wired yet.');
}
