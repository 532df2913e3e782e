// Worker-thread entry of the sandbox pool: wires the host to the thread's message port.
import { parentPort, workerData } from "node:worker_threads";
import { SandboxHost } from "./host.ts";
import type { WorkerInit, WorkerRequest } from "./protocol.ts";

const init = workerData as WorkerInit;
const host = new SandboxHost((reply) => parentPort!.postMessage(reply), new Int32Array(init.interrupt));
parentPort!.on("message", (req: WorkerRequest) => host.handle(req));
void host.start();
