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
  // 2: indexes for the viewer. `episodes_browse` holds every column a filter, sort or chart
  // reads, so those queries scan this narrow index instead of the wide rows; the other two
  // serve the default newest-first list and the score sorts straight from index order. The
  // JSON expressions are those of src/record/browse.ts, character for character (SQLite uses
  // an expression index only for the identical expression).
  `
  CREATE INDEX episodes_kind_started ON episodes (kind, started_at);
  CREATE INDEX episodes_kind_score_ftrl ON episodes (kind, json_extract(score, '$.ftrl.solve_f1'));
  CREATE INDEX episodes_kind_score_strict ON episodes (kind, json_extract(score, '$.strict.solve_f1'));
  CREATE INDEX episodes_browse ON episodes (
    kind, status, env_id, task_id,
    coalesce(json_extract(final_meta, '$."envforge/run".agent'), 'client:' || nullif(client_name, ''), 'unknown'),
    client_name, started_at, ended_at, call_count, solved_ftrl, solved_strict,
    json_extract(score, '$.ftrl.solve_f1'), json_extract(score, '$.strict.solve_f1'),
    json_extract(score, '$.ftrl.solve_precision'), json_extract(score, '$.ftrl.solve_rate'),
    json_extract(score, '$.strict.solve_precision'), json_extract(score, '$.strict.solve_rate'),
    json_extract(final_meta, '$."envforge/run".end')
  );
  `,
  // 3: trajectories from elsewhere and the model side of episodes. `imports` logs each
  // `envforge import` (its episodes are kind 'imported' and name the import in meta);
  // `model_calls` holds every request and response the model proxy relayed, keyed by episode.
  `
  CREATE TABLE imports (
    id          TEXT PRIMARY KEY,
    format      TEXT NOT NULL,
    source      TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    episodes    INTEGER NOT NULL,
    imported_at REAL NOT NULL
  );

  CREATE TABLE model_calls (
    id          INTEGER PRIMARY KEY,
    episode_id  TEXT NOT NULL,
    api         TEXT NOT NULL,
    path        TEXT NOT NULL,
    model       TEXT,
    stream      INTEGER NOT NULL,
    status      INTEGER,
    started_at  REAL NOT NULL,
    latency_ms  REAL,
    request     TEXT NOT NULL,
    response    TEXT,
    error       TEXT
  );
  CREATE INDEX model_calls_episode ON model_calls (episode_id, id);
  `,
  // 4: leases. A process runs an episode only while it holds the episode's lease; the epoch grows
  // each time the lease changes hands, and a call is recorded only under the epoch its process
  // holds (fencing), so a process that lost the lease cannot make a call take effect.
  `
  ALTER TABLE episodes ADD COLUMN lease_owner TEXT;
  ALTER TABLE episodes ADD COLUMN lease_until REAL;
  ALTER TABLE episodes ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
