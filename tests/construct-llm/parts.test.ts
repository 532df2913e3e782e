// The parts of the LLM generator on their own: reading JSON out of replies, reading a stage reply against
// its contract, cache keys and the cache, prompt files, the rate limiter, the pool and the HTTP model.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { cacheKey, contractSchema, decompose, extractJson, httpModel, ModelError, planRequest, pool, prompts, RateLimiter, readReply, render, ReplyCache, STAGE_NAMES, type Clock } from "../../src/construct/index.ts";
import { startFakeOpenAI } from "../run/openai-server.ts";

const TEMP = mkdtempSync(join(tmpdir(), "envforge-llm-parts-"));
afterAll(() => rmSync(TEMP, { recursive: true, force: true }));

const jsonValue = fc.jsonValue().filter((v) => v !== null && typeof v === "object");

describe("extractJson", () => {
  it("reads bare JSON, a fenced block amid prose, and one object amid prose", () => {
    fc.assert(
      fc.property(jsonValue, fc.constantFrom("", "Here it is:\n", "Sure.\n\n"), fc.constantFrom("", "\nDone.", "\n\nLet me know."), fc.constantFrom("json", "", "JSON"), (value, before, after, lang) => {
        const text = JSON.stringify(value, null, 2);
        // What JSON can carry (-0 comes back as 0).
        const want = { ok: true, value: JSON.parse(text) };
        expect(extractJson(text)).toEqual(want);
        expect(extractJson(`${before}\`\`\`${lang}\n${text}\n\`\`\`${after}`)).toEqual(want);
        if (!Array.isArray(value)) expect(extractJson(`${before}${text}${after}`)).toEqual(want);
      }),
    );
  });

  it("says what is wrong with a reply that holds no JSON", () => {
    expect(extractJson("  ")).toEqual({ ok: false, error: "the reply is empty" });
    expect(extractJson('{"a": 1,}')).toMatchObject({ ok: false, error: expect.stringMatching(/^the reply is not valid JSON: /) });
    expect(extractJson('```json\n{"a": [1, 2}\n```')).toMatchObject({ ok: false, error: expect.stringMatching(/^the fenced block is not valid JSON: /) });
    expect(extractJson('```\nnot json\n```\n```json\n{"a": 1}\n```')).toEqual({ ok: true, value: { a: 1 } });
  });
});

describe("readReply", () => {
  const request = planRequest({ count: 1, seed: 4, scenario: "single-hop" }, 0);
  const good = decompose(request);

  it("takes a reply that fits the contract and its inputs", () => {
    expect(readReply("decompose", JSON.stringify(good), () => [])).toEqual({ ok: true, value: good });
  });

  it("names the outcome and the errors of a reply it does not take", () => {
    expect(readReply("decompose", "no", () => [])).toMatchObject({ ok: false, outcome: "json" });
    const misfit = readReply("decompose", JSON.stringify({ ...good, title: 3 }), () => []);
    expect(misfit).toMatchObject({ ok: false, outcome: "schema", errors: [expect.stringMatching(/^\$\.title: /)] });
    expect(readReply("decompose", JSON.stringify(good), () => ["$.request.seed: must stay 1"])).toEqual({ ok: false, outcome: "contract", errors: ["$.request.seed: must stay 1"] });
  });
});

describe("cache", () => {
  const messages = [
    { role: "system" as const, content: "s" },
    { role: "user" as const, content: "u" },
  ];

  it("keys by prompt versions, model, messages and temperature, and nothing else", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.option(fc.double({ min: 0, max: 2, noNaN: true }), { nil: null }), (prompt, model, content, t) => {
        const key = cacheKey(prompt, model, [{ role: "user", content }], t);
        expect(key).toMatch(/^[0-9a-f]{64}$/);
        expect(cacheKey(prompt, model, [{ role: "user", content }], t)).toBe(key);
        expect(cacheKey(`${prompt}x`, model, [{ role: "user", content }], t)).not.toBe(key);
        expect(cacheKey(prompt, `${model}x`, [{ role: "user", content }], t)).not.toBe(key);
        expect(cacheKey(prompt, model, [{ role: "assistant", content }], t)).not.toBe(key);
        expect(cacheKey(prompt, model, [{ role: "user", content: `${content}x` }], t)).not.toBe(key);
        expect(cacheKey(prompt, model, [{ role: "user", content }], t === null ? 0.5 : null)).not.toBe(key);
      }),
    );
  });

  it("stores replies by key and reads a torn or foreign entry as a miss", async () => {
    const cache = new ReplyCache(join(TEMP, "cache"));
    const key = cacheKey("system@1", "m", messages, null);
    expect(await cache.get(key)).toBeNull();
    await cache.put({ format: "envforge-llm-cache@1", key, prompt: "system@1", model: "m", temperature: null, messages, reply: { text: "hi", usage: { prompt_tokens: 3, completion_tokens: 1 } } });
    expect(await cache.get(key)).toEqual({ text: "hi", usage: { prompt_tokens: 3, completion_tokens: 1 } });
    expect(readdirSync(join(TEMP, "cache", key.slice(0, 2)))).toEqual([`${key}.json`]);
    writeFileSync(cache.file(key), '{"format": "envforge-llm-cache@1", "key": "');
    expect(await cache.get(key)).toBeNull();
    const other = cacheKey("system@2", "m", messages, null);
    writeFileSync(cache.file(key), JSON.stringify({ format: "envforge-llm-cache@1", key: other, reply: { text: "x" } }));
    expect(await cache.get(key)).toBeNull();
  });
});

describe("prompt files", () => {
  it("has a versioned file for every stage and source, each rendered without a placeholder left", () => {
    const files = prompts();
    for (const name of [...STAGE_NAMES, "system", "repair", "source-world", "source-topic", "source-tools", "source-questions", "context-topic", "context-tools"]) {
      expect(files.get(name)?.version, name).toBeGreaterThanOrEqual(1);
    }
    const vars = { stage: "deploy", schema: contractSchema("deploy"), source: "", inputs: "", errors: "", domain: "films", topic: "t", domains: "films", origin: "o", tools: "[]", question: "q", answer: "a" };
    for (const name of files.keys()) {
      const r = render(name, vars);
      expect(r.id).toBe(`${name}@${files.get(name)!.version}`);
      expect(r.text).not.toMatch(/\{\{[a-z_]+\}\}/);
    }
    expect(() => render("deploy", {})).toThrow(/needs \{\{source\}\}/);
  });

  it("gives each stage its output contract as JSON Schema", () => {
    for (const s of STAGE_NAMES) expect(JSON.parse(contractSchema(s))).toMatchObject({ type: "object", required: expect.any(Array) });
    expect(readFileSync(new URL("../../src/construct/llm/prompts/system.md", import.meta.url), "utf8")).toMatch(/^---\nprompt: system\nversion: \d+\n---\n/);
  });
});

/** A clock that only moves when a sleeper wakes, to the time that sleeper waited for. */
function fakeClock(): Clock & { slept: number[] } {
  let t = 1000;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: (ms) => {
      const until = t + ms;
      slept.push(ms);
      return Promise.resolve().then(() => {
        t = Math.max(t, until);
      });
    },
  };
}

describe("RateLimiter", () => {
  it("spaces requests 60000/rpm ms apart and lets the first go at once", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(120, clock);
    const waits = [];
    for (let i = 0; i < 4; i++) waits.push(await limiter.take());
    expect(waits).toEqual([0, 500, 500, 500]);
    expect(clock.slept).toEqual([500, 500, 500]);
  });

  it("hands out slots in order to callers that arrive together", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(60, clock);
    expect(await Promise.all([limiter.take(), limiter.take(), limiter.take()])).toEqual([0, 1000, 2000]);
    expect(() => new RateLimiter(0)).toThrow(/positive/);
  });
});

describe("pool", () => {
  it("keeps at most N jobs in flight and starts none after a failure", async () => {
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const job = async (n: number) => {
      started.push(n);
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setImmediate(r));
      running--;
      if (n === 3) throw new Error("job 3 failed");
    };
    await expect(pool([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 3, job)).rejects.toThrow("job 3 failed");
    expect(peak).toBe(3);
    expect(started.length).toBeLessThan(10);
    started.length = 0;
    await pool([0, 1, 2], 8, async (n) => void started.push(n));
    expect(started.sort()).toEqual([0, 1, 2]);
  });
});

describe("httpModel", () => {
  it("retries 429 and 5xx, reports usage, and gives up at once on other 4xx", async () => {
    const server = await startFakeOpenAI((body, i) => {
      if (body.model === "denied") return { status: 401, error: "bad key" };
      return i === 0 ? { status: 429, error: "slow down", retryAfter: 0 } : i === 1 ? { status: 503, error: "busy" } : { content: "ok" };
    });
    try {
      const model = httpModel({ baseUrl: server.baseUrl, model: "m", apiKey: "sk-test", backoffMs: 1 });
      expect(await model.complete([{ role: "user", content: "hi" }], { temperature: 0.3, maxTokens: 50 })).toEqual({ text: "ok", usage: { prompt_tokens: expect.any(Number), completion_tokens: 7 } });
      expect(server.requests).toHaveLength(3);
      expect(server.requests[2]!.body).toMatchObject({ model: "m", temperature: 0.3, max_tokens: 50, stream: false });
      expect(server.requests[2]!.authorization).toBe("Bearer sk-test");
      const denied = httpModel({ baseUrl: server.baseUrl, model: "denied", backoffMs: 1 });
      await expect(denied.complete([{ role: "user", content: "hi" }])).rejects.toThrow(ModelError);
      expect(server.requests).toHaveLength(4);
    } finally {
      await server.close();
    }
  });
});
