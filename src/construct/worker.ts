// Worker-thread entry of the build pool: finds the first passing candidate of each request it is sent.
import { parentPort } from "node:worker_threads";
import type { BuildRequest } from "../schema/index.ts";
import { firstPassing } from "./build.ts";
import { PROCEDURAL } from "./pipeline.ts";

parentPort!.on("message", async (msg: { id: number; request: BuildRequest; validate: boolean }) => {
  try {
    const p = await firstPassing(msg.request, 0, PROCEDURAL, msg.validate);
    parentPort!.postMessage({ id: msg.id, ok: true, passing: { attempt: p.attempt, rejected: p.rejected, candidates: p.candidates, text: p.built.text } });
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, ok: false, error: (err as Error).stack ?? String(err) });
  }
});
