// The store layer: the only code that touches a database (SQLite, PostgreSQL). Writers, readers, and the recording transport wrapper.
export type { Lease, OpResult, RecordedCall, StoreBackend, StoredEpisode, WriteOp } from "./backend.ts";
export { SqliteBackend } from "./sqlite.ts";
export { PostgresBackend, snapshotToSqlite, withoutPassword } from "./postgres.ts";
export { episodeRecords, isDatabaseUrl, openRecorder, openRecords } from "./open.ts";
export { openDb, migrate, DatabaseOpenError, type Db, type OpenOptions, type Synchronous } from "./db.ts";
export { StoreError } from "./failure.ts";
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
export {
  AGENT_SQL,
  SCORE_SQL,
  EPISODE_SORTS,
  browseEpisodes,
  explainBrowse,
  episodeFacets,
  scoreHistogram,
  agentSums,
  scoreGroups,
  changeToken,
  episodeStates,
  lastEpisodeRowid,
  type AgentSums,
  type BrowsePage,
  type BrowseRow,
  type EpisodeFacets,
  type EpisodeOrder,
  type EpisodeQuery,
  type EpisodeSort,
  type EpisodeState,
  type FacetValue,
  type ScoreBinCount,
  type ScoreGroup,
  type ScoreGroups,
} from "./browse.ts";
export { RecordingTransport, InvalidMessageError, describeMessage, type RecordingOptions } from "./transport.ts";
export { existingEpisodeIds, storeImport, type ImportBatch, type ImportedCall, type ImportedEpisodeRecord } from "./imported.ts";
export { ModelCallLog, listModelCalls, type ModelCallRow, type ModelCallStart } from "./model-calls.ts";
