// The numbered schema migrations of src/store/migrations.ts in PostgreSQL's dialect; `envforge_schema.version` holds how many have been applied.
//
// Append only, and numbered like the SQLite ones: migration N here makes the same tables and
// columns as migration N there. Differences of dialect: REAL is double precision, 0/1 flags are
// boolean, ids are bigint identities. PostgreSQL text cannot hold NUL or lone surrogates, so each
// column that keeps a tool's or a client's exact text (messages.body, calls.output,
// episodes.final_answer) has a `_utf16` bytea twin holding the UTF-16LE bytes when, and only when,
// the text has such characters; the text column then holds a readable copy with U+FFFD in their place.

export const PG_MIGRATIONS: readonly string[] = [
  // 1: episodes, every JSON-RPC message, and every environment tool call.
  `
  CREATE TABLE episodes (
    id                 text PRIMARY KEY,
    kind               text NOT NULL DEFAULT 'episode',
    env_id             text,
    env_sha256         text,
    task_id            text,
    transport          text NOT NULL,
    session_id         text,
    client_name        text,
    client_version     text,
    protocol_version   text,
    status             text NOT NULL DEFAULT 'running',
    started_at         double precision NOT NULL,
    ended_at           double precision,
    needed             integer,
    call_count         integer NOT NULL DEFAULT 0,
    solved_ftrl        integer NOT NULL DEFAULT 0,
    solved_strict      integer NOT NULL DEFAULT 0,
    final_answer       text,
    final_answer_utf16 bytea,
    final_meta         text,
    score              text,
    owner              text,
    meta               text
  );
  CREATE INDEX episodes_env_task ON episodes (env_id, task_id);
  CREATE INDEX episodes_status ON episodes (status);
  CREATE INDEX episodes_started ON episodes (started_at);

  CREATE TABLE messages (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    episode_id  text REFERENCES episodes (id),
    ts          double precision NOT NULL,
    direction   text NOT NULL CHECK (direction IN ('in', 'out')),
    type        text NOT NULL CHECK (type IN ('request', 'notification', 'response', 'error', 'invalid')),
    method      text,
    request_id  text,
    latency_ms  double precision,
    body        text NOT NULL,
    body_utf16  bytea
  );
  CREATE INDEX messages_episode ON messages (episode_id, id);

  CREATE TABLE calls (
    episode_id     text NOT NULL REFERENCES episodes (id),
    seq            integer NOT NULL,
    request_id     text,
    tool           text NOT NULL,
    arguments      text NOT NULL,
    output         text NOT NULL,
    output_utf16   bytea,
    is_error       boolean NOT NULL,
    error_kind     text,
    solved_ftrl    text,
    solved_strict  text,
    started_at     double precision NOT NULL,
    latency_ms     double precision NOT NULL,
    assistant_meta text,
    PRIMARY KEY (episode_id, seq)
  );
  `,
  // 2: indexes for listing. The viewer's JSON-expression indexes are not repeated: reads from
  // PostgreSQL go through a SQLite snapshot (src/store/postgres.ts), which has them, and a jsonb
  // cast in an index would refuse any row whose JSON holds a \u0000 escape.
  `
  CREATE INDEX episodes_kind_started ON episodes (kind, started_at);
  CREATE INDEX episodes_browse ON episodes (kind, status, env_id, task_id, started_at);
  `,
  // 3: trajectories from elsewhere and the model side of episodes.
  `
  CREATE TABLE imports (
    id          text PRIMARY KEY,
    format      text NOT NULL,
    source      text NOT NULL,
    sha256      text NOT NULL,
    episodes    integer NOT NULL,
    imported_at double precision NOT NULL
  );

  CREATE TABLE model_calls (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    episode_id  text NOT NULL,
    api         text NOT NULL,
    path        text NOT NULL,
    model       text,
    stream      boolean NOT NULL,
    status      integer,
    started_at  double precision NOT NULL,
    latency_ms  double precision,
    request     text NOT NULL,
    response    text,
    error       text
  );
  CREATE INDEX model_calls_episode ON model_calls (episode_id, id);
  `,
  // 4: leases: who may run an episode, until when, and the fencing epoch its calls must carry.
  `
  ALTER TABLE episodes ADD COLUMN lease_owner text, ADD COLUMN lease_until double precision,
    ADD COLUMN lease_epoch integer NOT NULL DEFAULT 0;
  `,
];
