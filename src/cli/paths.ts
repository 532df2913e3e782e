// Checks on output paths made before a command does its work, so a bad --out fails at once, not after a long build.
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { dirname } from "node:path";

const kind = async (path: string): Promise<"folder" | "file" | "missing"> => {
  try {
    return (await stat(path)).isDirectory() ? "folder" : "file";
  } catch {
    return "missing";
  }
};

/**
 * Throws one readable line unless `dir` is a folder that can be written, or can be created: its
 * nearest existing ancestor is a writable folder. `shown` is the path as the user typed it.
 */
export async function checkOutputFolder(dir: string, flag: string, shown: string): Promise<void> {
  let path = dir;
  let found = await kind(path);
  while (found === "missing" && dirname(path) !== path) {
    path = dirname(path);
    found = await kind(path);
  }
  if (found === "file") {
    const where = path === dir ? `${shown} is a file` : `${path} is a file, so no folder can be made in it`;
    throw new Error(`${flag} ${shown}: ${where}; give a folder path`);
  }
  try {
    await access(path, constants.W_OK);
  } catch {
    throw new Error(`${flag} ${shown}: cannot write in ${path} (permission denied); give a folder you can write to`);
  }
}
