// The shape of one CLI command: parse its flags, call one library function, return an exit code.
import type { Io } from "./io.ts";

/** A command's module: its usage line and its action (its name and summary sit in main.ts's table). */
export interface Command {
  usage: string;
  run(argv: string[], io: Io): Promise<number>;
}
