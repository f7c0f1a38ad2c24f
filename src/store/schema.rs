//! Schema migrations. `PRAGMA user_version` records the applied version;
//! `PRAGMA application_id` marks the file as a musefs store.

/// 'muse' in ASCII: identifies a musefs store.
pub const APPLICATION_ID: i32 = 0x6d75_7365;

/// The newest schema version this binary knows.
pub const SCHEMA_VERSION: i32 = 1;

/// Migration `i` takes the schema from version `i` to `i + 1`.
pub fn migrations() -> Vec<String> {
    vec![format!("{V1}\n{}", v1_triggers())]
}

/// The change log holds one row per track: every change moves the track's
/// row to a new, higher `seq`. A reader that remembers the highest `seq` it
/// has seen finds every track changed since with `WHERE seq > watermark`;
/// the log cannot overflow (it is bounded by the number of tracks).
fn log(track: &str) -> String {
    format!(
        "INSERT INTO changes(seq, track_id) \
         VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM changes), {track}) \
         ON CONFLICT(track_id) DO UPDATE SET seq = excluded.seq;"
    )
}

fn bump(ids: &str) -> String {
    format!(
        "UPDATE tracks SET content_version = content_version + 1, \
         tags_edited_ns = CAST((julianday('now') - 2440587.5) * 86400000000000 AS INTEGER) \
         WHERE id IN ({ids});"
    )
}

fn v1_triggers() -> String {
    let mut out = String::new();
    // Edits by external writers: tags and picture links. A track the
    // scanner is still building in its open transaction (tags_edited_ns
    // = -1, reset before commit, so never seen by a reader) needs neither a
    // bump nor a log entry for each tag it gets: its insert is logged.
    for table in ["tags", "track_art"] {
        out += &format!(
            "CREATE TRIGGER {table}_ai AFTER INSERT ON {table} \
             WHEN (SELECT tags_edited_ns FROM tracks WHERE id = NEW.track_id) >= 0 \
             BEGIN {} {} END;\n",
            bump("NEW.track_id"),
            log("NEW.track_id")
        );
        out += &format!(
            "CREATE TRIGGER {table}_au AFTER UPDATE ON {table} BEGIN {} {} {} END;\n",
            bump("OLD.track_id, NEW.track_id"),
            log("OLD.track_id"),
            log("NEW.track_id")
        );
        out += &format!(
            "CREATE TRIGGER {table}_ad AFTER DELETE ON {table} BEGIN {} {} END;\n",
            bump("OLD.track_id"),
            log("OLD.track_id")
        );
    }
    // Structural changes by the scanner (it bumps content_version itself).
    out += &format!(
        "CREATE TRIGGER tracks_ai AFTER INSERT ON tracks BEGIN {} END;\n",
        log("NEW.id")
    );
    out += &format!(
        "CREATE TRIGGER tracks_au AFTER UPDATE OF path, format, audio_offset, audio_length, \
         file_size, mtime_ns, ctime_ns, inode ON tracks BEGIN {} END;\n",
        log("NEW.id")
    );
    out += &format!(
        "CREATE TRIGGER tracks_ad AFTER DELETE ON tracks BEGIN {} END;\n",
        log("OLD.id")
    );
    out
}

const V1: &str = r#"
CREATE TABLE tracks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    path            TEXT    NOT NULL UNIQUE CHECK (length(path) > 0 AND substr(path, 1, 1) = '/'),
    format          TEXT    NOT NULL CHECK (format IN
                        ('flac','mp3','m4a','m4b','ogg-opus','ogg-vorbis','ogg-flac','wav')),
    audio_offset    INTEGER NOT NULL CHECK (audio_offset >= 0),
    audio_length    INTEGER NOT NULL CHECK (audio_length >= 0),
    file_size       INTEGER NOT NULL CHECK (file_size >= audio_offset + audio_length),
    mtime_ns        INTEGER NOT NULL,
    ctime_ns        INTEGER NOT NULL,
    inode           INTEGER NOT NULL,
    content_version INTEGER NOT NULL DEFAULT 1 CHECK (content_version >= 1),
    tags_edited_ns  INTEGER NOT NULL DEFAULT 0,
    fingerprint     BLOB
) STRICT;
-- The scanner re-attaches a moved file's row by its content fingerprint.
CREATE INDEX tracks_by_fingerprint ON tracks(fingerprint) WHERE fingerprint IS NOT NULL;

CREATE TABLE tags (
    track_id   INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    key        TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 255 AND key = lower(key)),
    ordinal    INTEGER NOT NULL DEFAULT 0 CHECK (ordinal >= 0),
    value      TEXT    NOT NULL DEFAULT '',
    value_blob BLOB,
    PRIMARY KEY (track_id, key, ordinal)
) STRICT, WITHOUT ROWID;

CREATE TABLE art (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 BLOB    NOT NULL UNIQUE CHECK (length(sha256) = 32),
    mime   TEXT    NOT NULL CHECK (length(mime) BETWEEN 1 AND 255),
    width  INTEGER NOT NULL DEFAULT 0 CHECK (width >= 0),
    height INTEGER NOT NULL DEFAULT 0 CHECK (height >= 0),
    depth  INTEGER NOT NULL DEFAULT 0 CHECK (depth >= 0),
    colors INTEGER NOT NULL DEFAULT 0 CHECK (colors >= 0),
    data   BLOB    NOT NULL CHECK (length(data) BETWEEN 1 AND 16776192)
) STRICT;

CREATE TABLE track_art (
    track_id     INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    ordinal      INTEGER NOT NULL DEFAULT 0 CHECK (ordinal >= 0),
    art_id       INTEGER NOT NULL REFERENCES art(id) ON DELETE RESTRICT,
    picture_type INTEGER NOT NULL DEFAULT 3 CHECK (picture_type BETWEEN 0 AND 20),
    description  TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (track_id, ordinal)
) STRICT, WITHOUT ROWID;
CREATE INDEX track_art_by_art ON track_art(art_id);

CREATE TABLE structural (
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    kind     TEXT    NOT NULL CHECK (length(kind) > 0),
    ordinal  INTEGER NOT NULL DEFAULT 0 CHECK (ordinal >= 0),
    data     BLOB    NOT NULL,
    PRIMARY KEY (track_id, kind, ordinal)
) STRICT, WITHOUT ROWID;

CREATE TABLE changes (
    seq      INTEGER PRIMARY KEY,
    track_id INTEGER NOT NULL UNIQUE
) STRICT;

-- Art is content-addressed and immutable.
CREATE TRIGGER art_immutable BEFORE UPDATE ON art
BEGIN
    SELECT RAISE(ABORT, 'art rows are immutable: insert a new row and relink track_art');
END;
"#;
