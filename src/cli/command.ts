// The shape of one CLI command: parse its flags, call one library function, return an exit code.
import type { Io } from "./io.ts";

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[], io: Io): Promise<number>;
}
