// The --pass-band flags that run, export and serve share: which calibrated tasks to keep.
import { resolve } from "node:path";
import { calibrationPath, modelCalibration, parsePassBand, readCalibration, withinBand } from "../run/index.ts";
import type { Environment } from "../schema/index.ts";
import { UsageError, write, type Io } from "./io.ts";

export const BAND_FLAGS = {
  "pass-band": { type: "string" },
  calibration: { type: "string" },
  "calibrated-model": { type: "string" },
} as const;

export const BAND_USAGE = "[--pass-band LO,HI [--calibration FILE (default DIR/calibration.json)] [--calibrated-model NAME]]";

type BandValues = { "pass-band"?: string | undefined; calibration?: string | undefined; "calibrated-model"?: string | undefined };

/** The environments cut to the band (unchanged without --pass-band); says on stderr what was left out. */
export function applyBand(values: BandValues, environments: readonly Environment[], dir: string, io: Io, command: string): Environment[] {
  if (values["pass-band"] === undefined) {
    if (values.calibration !== undefined || values["calibrated-model"] !== undefined) throw new UsageError("--calibration and --calibrated-model apply with --pass-band only");
    return [...environments];
  }
  const file = values.calibration ? resolve(io.cwd, values.calibration) : calibrationPath(dir);
  try {
    const band = parsePassBand(values["pass-band"]);
    const { model, figures } = modelCalibration(readCalibration(file), file, values["calibrated-model"]);
    const cut = withinBand(environments, figures, band);
    write(io.stderr, `envforge ${command}: pass band ${band[0]}-${band[1]} for ${model}: ${cut.kept} tasks kept, ${cut.outside} outside the band, ${cut.uncalibrated} not calibrated`);
    return cut.environments;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
