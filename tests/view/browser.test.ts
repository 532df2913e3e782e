// End to end in Debian's Chromium (headless, playwright-core): the viewer mounted on a real `serve --http` server, with oracle and random rollouts recorded through it.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Recorder, Records } from "../../src/store/index.ts";
import { oracleFactory, randomFactory, runRollouts } from "../../src/run/index.ts";
import { EnvironmentRegistry, startHttpServer, type HttpServer } from "../../src/serve/index.ts";
import { Viewer, viewerRoute } from "../../src/view/index.ts";
import { EXAMPLE, recordEpisode, VARIANT } from "./fixtures.ts";
import { colourStats, decodePng } from "./png.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/** Screenshots stay here after the run, for a person to look at. */
export const SCREENSHOTS = join(tmpdir(), "envforge-view-screenshots");
/** Page-side expressions are strings: this project's TypeScript has no DOM library. */
const ACTIVE_HREF = `document.activeElement && document.activeElement.getAttribute("href")`;
const XSS = '<script>window.__pwned = 1</script>"><img src=x onerror="window.__pwned = 2">';

const environments = [EXAMPLE, VARIANT];
let dir: string;
let recorder: Recorder;
let records: Records;
let server: HttpServer;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: these tests drive Debian's Chromium; .ci/run installs it (apt-get install -y --no-install-recommends chromium)`);
  }
  dir = mkdtempSync(join(tmpdir(), "envforge-view-browser-"));
  mkdirSync(SCREENSHOTS, { recursive: true });
  recorder = Recorder.open(join(dir, "rec.db"));
  records = new Records(recorder.db);
  const viewer = new Viewer({ records, environments, pollMs: 100 });
  server = await startHttpServer({ registry: new EnvironmentRegistry(environments.map((env) => ({ env }))), recorder, routes: [viewerRoute(viewer)], admin: { port: 0 } });
  const target = { kind: "http" as const, url: server.url };
  const oracle = await runRollouts({ environments, policy: oracleFactory(), target, n: 2, concurrency: 4 });
  const random = await runRollouts({ environments, policy: randomFactory(5), target, n: 3, concurrency: 4 });
  expect(oracle.done + random.done).toBe(20);
  // What a hostile tool could return, recorded the way the server records it.
  recordEpisode(recorder, { id: "hostile", env: EXAMPLE, taskId: "director-birth-year", agent: "random", turns: [{ content: XSS, calls: [{ tool: "get_film", arguments: { title: XSS }, output: XSS }] }], answer: XSS });
  context = await chromium.launchPersistentContext(mkdtempSync(join(dir, "profile-")), { executablePath: CHROMIUM, args: ARGS, viewport: { width: 1440, height: 1000 } });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("dialog", (d) => void d.dismiss());
}, 180_000);

afterAll(async () => {
  await context?.close();
  await server?.close();
  recorder?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const base = (): string => server.adminOrigin!;

async function screenshot(name: string): Promise<{ distinct: number; foreground: number }> {
  const file = join(SCREENSHOTS, `${name}.png`);
  const png = await page.screenshot({ path: file, fullPage: true });
  const img = decodePng(png);
  expect(img.width).toBe(1440);
  return colourStats(img);
}

async function expectLandmarks(): Promise<void> {
  await expect(page.getByRole("banner").count()).resolves.toBe(1);
  await expect(page.getByRole("navigation", { name: "Main" }).count()).resolves.toBe(1);
  await expect(page.getByRole("main").count()).resolves.toBe(1);
  await expect(page.getByRole("heading", { level: 1 }).count()).resolves.toBe(1);
}

/** Every form control has a label a screen reader announces. */
async function expectLabelledControls(): Promise<void> {
  const unlabelled = await page.evaluate(
    `[...document.querySelectorAll("main input:not([type=hidden]), main select")].filter((el) => !el.labels.length && !el.getAttribute("aria-label")).map((el) => el.outerHTML)`,
  );
  expect(unlabelled).toEqual([]);
}

describe("the episode list", () => {
  it("renders every recorded episode with landmarks, labels and a real screenshot", async () => {
    await page.goto(`${base()}/`);
    await expectLandmarks();
    await expectLabelledControls();
    const total = records.counts().episodes;
    await expect(page.locator("#results-heading").textContent()).resolves.toBe(`${total} episodes`);
    await expect(page.locator("table.episodes tbody tr").count()).resolves.toBe(total);
    await page.locator("#live[data-state=on]").waitFor();
    const shot = await screenshot("list");
    expect(shot.distinct).toBeGreaterThan(200);
    expect(shot.foreground).toBeGreaterThan(0.2);
  });

  it("filters by model and scenario in place, as the database counts them", async () => {
    await page.goto(`${base()}/`);
    await page.getByLabel("Model or client").fill("random");
    await page.getByLabel("Model or client").press("Enter");
    await page.waitForURL(/model=random/);
    const randoms = records.listEpisodes({ limit: 1000 }).episodes.filter((e) => e.finalMeta !== null && JSON.stringify(e.finalMeta).includes('"agent":"random"'));
    await expect(page.locator("#results-heading").textContent()).resolves.toBe(`${randoms.length} episodes`);
    const agents = await page.locator("table.episodes tbody tr td:nth-child(7)").allTextContents();
    expect(new Set(agents)).toEqual(new Set(["random"]));
    await page.getByLabel("Scenario").selectOption("single-hop");
    await page.waitForURL(/scenario=single-hop/);
    await page.waitForFunction(`[...document.querySelectorAll("table.episodes tbody tr td:nth-child(5)")].every((td) => td.textContent === "single-hop")`);
    await expect(page.locator("table.episodes tbody tr").count()).resolves.toBe(randoms.filter((e) => e.envId === VARIANT.id).length);
  });

  it("sorts by a column header and reaches and opens rows from the keyboard", async () => {
    await page.goto(`${base()}/?status=submitted`);
    await page.getByRole("link", { name: "Score" }).click();
    await page.waitForURL(/sort=score/);
    await expect(page.locator("th[aria-sort]").textContent()).resolves.toContain("Score");
    const scores = (await page.locator("table.episodes tbody td.score span").allTextContents()).map(Number);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    // Tab walks the filters and the column headers, then reaches the rows; the focused row link shows a focus ring.
    await page.locator("#f-max_score").focus();
    let tabs = 0;
    while (!(await page.evaluate(`document.activeElement.classList.contains("row-link")`)) && tabs++ < 40) await page.keyboard.press("Tab");
    const first = await page.locator("a.row-link").first().getAttribute("href");
    await expect(page.evaluate(ACTIVE_HREF)).resolves.toBe(first);
    await expect(page.evaluate(`getComputedStyle(document.activeElement).outlineStyle`)).resolves.toBe("solid");
    await page.keyboard.press("ArrowDown");
    const second = await page.locator("a.row-link").nth(1).getAttribute("href");
    await expect(page.evaluate(ACTIVE_HREF)).resolves.toBe(second);
    await page.keyboard.press("Enter");
    await page.waitForURL((u) => u.pathname === second);
    await expect(page.getByRole("heading", { level: 1 }).textContent()).resolves.toContain("Episode");
  });
});

describe("an episode", () => {
  it("marks what each call solved and shows the score exactly as the database has them", async () => {
    const episodes = records.listEpisodes({ limit: 1000 }).episodes.filter((e) => e.id !== "hostile");
    const withMisses = episodes.find((e) => e.callCount > e.solvedFtrl && e.solvedFtrl > 0) ?? episodes.find((e) => e.callCount > 0)!;
    for (const episode of [episodes.find((e) => e.id.includes(":oracle:"))!, withMisses]) {
      await page.goto(`${base()}/episodes/${encodeURIComponent(episode.id)}`);
      await expectLandmarks();
      const shown = (await page.evaluate(
        `[...document.querySelectorAll("li.call[data-seq]")].map((li) => ({ seq: Number(li.dataset.seq), ftrl: li.dataset.solvedFtrl, strict: li.dataset.solvedStrict, text: li.querySelector(".markers").textContent }))`,
      )) as { seq: number; ftrl: string; strict: string; text: string }[];
      const calls = records.listCalls(episode.id);
      expect(shown.map((s) => s.seq)).toEqual(calls.map((c) => c.seq));
      for (const [i, c] of calls.entries()) {
        expect(shown[i]!.ftrl).toBe(c.solvedFtrl ?? "");
        expect(shown[i]!.strict).toBe(c.solvedStrict ?? "");
        expect(shown[i]!.text).toContain(c.solvedFtrl === null ? "ftrl: solved nothing" : `ftrl: solved “${c.solvedFtrl}”`);
      }
      for (const mode of ["ftrl", "strict"] as const) {
        for (const metric of ["solved", "calls", "solve_f1"] as const) {
          const cell = await page.locator(`table.scores td[data-mode=${mode}][data-metric=${metric}]`).textContent();
          const want = episode.score![mode][metric];
          expect(Number(cell), `${episode.id} ${mode} ${metric}`).toBeCloseTo(want, 3);
        }
      }
      await expect(page.locator("table.scores").getAttribute("data-agree")).resolves.toBe("true");
      await expect(page.getByRole("link", { name: "Download JSON" }).getAttribute("href")).resolves.toBe(`/api/episodes/${encodeURIComponent(episode.id)}/export.json`);
    }
    await page.goto(`${base()}/episodes/${encodeURIComponent(withMisses.id)}`);
    const shot = await screenshot("episode");
    expect(shot.distinct).toBeGreaterThan(100);
  });

  it("shows hostile tool output as text and runs none of it", async () => {
    await page.goto(`${base()}/episodes/hostile`);
    await expect(page.locator("li.call .out pre").textContent()).resolves.toBe(XSS);
    await expect(page.locator("main img").count()).resolves.toBe(0);
    await expect(page.evaluate(`typeof window.__pwned`)).resolves.toBe("undefined");
    await page.goto(`${base()}/?model=${encodeURIComponent(XSS)}`);
    await expect(page.getByLabel("Model or client").inputValue()).resolves.toBe(XSS);
    await expect(page.evaluate(`typeof window.__pwned`)).resolves.toBe("undefined");
  });
});

describe("charts", () => {
  it("draws the three charts as SVG with their data tables", async () => {
    await page.goto(`${base()}/charts`);
    await expectLandmarks();
    await expectLabelledControls();
    for (const id of ["chart-reward", "chart-agents", "chart-groups"]) {
      await expect(page.locator(`svg#${id}[role=img]`).count()).resolves.toBe(1);
    }
    await expect(page.locator("#chart-reward g.cell").count()).resolves.toBe(2);
    await expect(page.locator("#chart-agents g.point").count()).resolves.toBe(2);
    // Oracle and random groups on four tasks; the oracle's groups are flat.
    await expect(page.locator("#chart-groups g.group").count()).resolves.toBe(8);
    await expect(page.locator("#chart-groups g.group.flat").count()).resolves.toBeGreaterThanOrEqual(4);
    const oracle = page.locator('#chart-agents g.point[data-agent="oracle"]');
    await expect(oracle.getAttribute("data-precision")).resolves.toBe("1.000");
    await expect(oracle.getAttribute("data-rate")).resolves.toBe("1.000");
    const shot = await screenshot("charts");
    expect(shot.distinct).toBeGreaterThan(200);
  });
});

describe("live updates", () => {
  it("adds a new episode to the open list, and updates an open running episode call by call", async () => {
    await page.goto(`${base()}/`);
    await page.locator("#live[data-state=on]").waitFor();
    const before = await page.locator("table.episodes tbody tr").count();

    const url = new URL(server.url);
    url.searchParams.set("env", EXAMPLE.id);
    url.searchParams.set("task", "director-birthplace");
    url.searchParams.set("episode", "live-episode");
    const client = new Client({ name: "browser-test", version: "1.0" });
    const transport = new StreamableHTTPClientTransport(url);
    await client.connect(transport as Transport);
    await client.callTool({ name: "get_film", arguments: { title: "Salt Meridian" } });
    const row = page.locator('tr[data-id="live-episode"]');
    await row.waitFor({ timeout: 15_000 });
    await expect(page.locator("table.episodes tbody tr").count()).resolves.toBe(before + 1);
    await expect(row.locator(".badge").textContent()).resolves.toBe("running");

    await row.locator("a.row-link").click();
    await page.waitForURL(/\/episodes\/live-episode$/);
    await expect(page.locator("li.call[data-seq]").count()).resolves.toBe(1);
    await expect(page.locator("main").textContent()).resolves.not.toContain("Port Calder");
    await page.locator("#live[data-state=on]").waitFor();
    await client.callTool({ name: "get_person", arguments: { name: "Tomas Okonkwo-Reyes" } });
    await page.locator("li.call[data-seq='2']").waitFor({ timeout: 15_000 });
    await client.callTool({ name: "submit_answer", arguments: { answer: "Port Calder" } });
    await page.locator("#episode[data-status=submitted]").waitFor({ timeout: 15_000 });
    await expect(page.locator("table.scores td[data-mode=ftrl][data-metric=solve_f1]").textContent()).resolves.toBe("1");
    await transport.terminateSession().catch(() => undefined);
    await client.close();
  });
});
