// Numbered schema migrations; `PRAGMA user_version` holds how many have been applied.
//
// Append only: a released migration is never edited, so a database written by any earlier
// version opens with the current code. Times are milliseconds since the Unix epoch (REAL,
// sub-millisecond); JSON columns hold JSON text.

export const MIGRATIONS: readonly string[] = [
  // 1: episodes, every JSON-RPC message, and every environment tool call.
  `
  CREATE TABLE episodes (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL DEFAULT 'episode',
    env_id           TEXT,
    env_sha256       TEXT,
    task_id          TEXT,
    transport        TEXT NOT NULL,
    session_id       TEXT,
    client_name      TEXT,
    client_version   TEXT,
    protocol_version TEXT,
    status           TEXT NOT NULL DEFAULT 'running',
    started_at       REAL NOT NULL,
    ended_at         REAL,
    needed           INTEGER,
    call_count       INTEGER NOT NULL DEFAULT 0,
    solved_ftrl      INTEGER NOT NULL DEFAULT 0,
    solved_strict    INTEGER NOT NULL DEFAULT 0,
    final_answer     TEXT,
    final_meta       TEXT,
    score            TEXT,
    owner            TEXT,
    meta             TEXT
  );
  CREATE INDEX episodes_env_task ON episodes (env_id, task_id);
  CREATE INDEX episodes_status ON episodes (status);
  CREATE INDEX episodes_started ON episodes (started_at);

  CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    episode_id  TEXT REFERENCES episodes (id),
    ts          REAL NOT NULL,
    direction   TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    type        TEXT NOT NULL CHECK (type IN ('request', 'notification', 'response', 'error', 'invalid')),
    method      TEXT,
    request_id  TEXT,
    latency_ms  REAL,
    body        TEXT NOT NULL
  );
  CREATE INDEX messages_episode ON messages (episode_id, id);

  CREATE TABLE calls (
    episode_id     TEXT NOT NULL REFERENCES episodes (id),
    seq            INTEGER NOT NULL,
    request_id     TEXT,
    tool           TEXT NOT NULL,
    arguments      TEXT NOT NULL,
    output         TEXT NOT NULL,
    is_error       INTEGER NOT NULL,
    error_kind     TEXT,
    solved_ftrl    TEXT,
    solved_strict  TEXT,
    started_at     REAL NOT NULL,
    latency_ms     REAL NOT NULL,
    assistant_meta TEXT,
    PRIMARY KEY (episode_id, seq)
  ) WITHOUT ROWID;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
