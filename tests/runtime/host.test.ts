// The worker side of the sandbox pool, driven by its messages directly: an episode that moves away and back keeps working.
import { expect, it } from "vitest";
import { SandboxHost } from "../../src/runtime/host.ts";
import type { WorkerReply, WorkerRequest } from "../../src/runtime/protocol.ts";
import { makeEnv } from "./helpers.ts";

const ENV = makeEnv({ add: { source: "function add(args, state) { state.n += args.n; return state.n; }" } }, { id: "host-test", state: { n: 0 } });

/** A host and the replies it sent, with a way to wait for the reply to one request. */
function host() {
  const replies: WorkerReply[] = [];
  const waiting = new Map<number, (r: WorkerReply) => void>();
  const h = new SandboxHost((r) => {
    replies.push(r);
    if ("id" in r) waiting.get(r.id)?.(r);
  }, new Int32Array(new SharedArrayBuffer(4)));
  const ask = (req: WorkerRequest & { id: number }) =>
    new Promise<WorkerReply>((resolve) => {
      waiting.set(req.id, resolve);
      h.handle(req);
    });
  return { h, ask, replies };
}

it("keeps an episode reopened under its number while its earlier open was still under way", async () => {
  const { h, ask } = host();
  expect(await ask({ op: "compile", id: 1, key: "k", env: ENV, limits: {} })).toMatchObject({ ok: true });
  // The pool moved episode 7 here, away (close) and back (open) before the first open had finished.
  const first = ask({ op: "open", id: 2, key: "k", episode: 7, seed: 0, replay: [] });
  h.handle({ op: "close", episode: 7 });
  const second = ask({ op: "open", id: 3, key: "k", episode: 7, seed: 0, replay: [] });
  expect(await first).toMatchObject({ ok: true });
  expect(await second).toMatchObject({ ok: true });
  const call = await ask({ op: "call", id: 4, episode: 7, tool: "add", args: { n: 2 } });
  expect(call).toMatchObject({ op: "call", result: { ok: true, value: 2 } });
});

it("answers a call of a closed episode as closed", async () => {
  const { h, ask } = host();
  await ask({ op: "compile", id: 1, key: "k", env: ENV, limits: {} });
  await ask({ op: "open", id: 2, key: "k", episode: 1, seed: 0, replay: [] });
  h.handle({ op: "close", episode: 1 });
  expect(await ask({ op: "call", id: 3, episode: 1, tool: "add", args: { n: 1 } })).toMatchObject({ result: { ok: false, kind: "episode_closed" }, digest: null });
});
