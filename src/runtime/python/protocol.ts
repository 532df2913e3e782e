// The messages between the host and a Python worker thread: one request in flight per worker, answered by id.

export type WorkerOp = "load" | "open" | "call" | "save" | "state" | "close";

export interface WorkerRequest {
  id: number;
  op: WorkerOp;
  args: (string | number)[];
  /** How far this request may grow the interpreter's memory, in bytes. */
  memoryBytes: number;
}

export type WorkerReply =
  | { type: "ready"; startMs: number; heapBytes: number }
  | { type: "result"; id: number; result: string; heapBytes: number }
  | { type: "error"; id: number; message: string; heapBytes: number };
