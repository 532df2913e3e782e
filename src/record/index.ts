// The recording layer: the only code that touches SQLite. Writers, readers, and the recording transport wrapper.
export { openDb, migrate, type Db, type OpenOptions, type Synchronous } from "./db.ts";
export { MIGRATIONS, SCHEMA_VERSION } from "./migrations.ts";
export {
  Recorder,
  now,
  type CallRecord,
  type Direction,
  type EpisodeEnd,
  type EpisodeStart,
  type MessageRecord,
  type MessageType,
} from "./recorder.ts";
export {
  Records,
  type CallRow,
  type EpisodeDetail,
  type EpisodeFilter,
  type EpisodePage,
  type EpisodeRow,
  type MessageRow,
  type RecordCounts,
} from "./reader.ts";
export { RecordingTransport, InvalidMessageError, describeMessage, type RecordingOptions } from "./transport.ts";
