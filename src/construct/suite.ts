// The shipped suite: every scenario at every complexity level, spread over the domains, always the same.
import type { BuildRequest } from "../schema/index.ts";
import { DOMAINS, SCENARIOS } from "../schema/index.ts";
import { planRequest, uniformComplexity } from "./plan.ts";

export const SUITE_SEED = 20260308;
/** Environments per scenario and level: 4 x 4 x 16 = 256. */
export const SUITE_PER_CELL = 16;

export function suiteRequests(): BuildRequest[] {
  const out: BuildRequest[] = [];
  SCENARIOS.forEach((scenario, s) => {
    for (let level = 0; level < 4; level++) {
      for (let k = 0; k < SUITE_PER_CELL; k++) {
        const domain = DOMAINS[(k + 3 * s + 5 * level) % DOMAINS.length]!;
        const index = (s * 4 + level) * SUITE_PER_CELL + k;
        out.push(planRequest({ count: 1, seed: SUITE_SEED, scenario, complexity: uniformComplexity(level), domain }, index));
      }
    }
  });
  return out;
}
