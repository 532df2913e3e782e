// Why a candidate environment was thrown away: the build regenerates it and counts the reason.
export class Rejection extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}
