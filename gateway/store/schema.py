"""The store's schema, as recorded migrations (applied in order, each once, each in its own transaction).

Readings are kept small: node and measurement names are interned (``nodes``, ``names``), the frame key
(node, boot, q) and its receive time live once per frame in ``frames``, and ``readings`` holds only
(seq, frame, name, value). ``seq`` of each outgoing stream comes from AUTOINCREMENT, so it never goes back
even when retention deletes the newest rows.

Times are integers: milliseconds since the epoch on the gateway's clock (``at``). ``offset`` is what the
sync side learned the clock to be off by when the row was written (ms to add), NULL when not known good
(never learned, or the wall clock was stepped or the gateway rebooted since: see gateway/store/clock.py).
The wall clock is never used to order rows: ``latest`` keeps the newest by the node's (boot, q).
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001-base",
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE nodes (
            id INTEGER PRIMARY KEY,
            node TEXT NOT NULL UNIQUE,
            first_seen INTEGER NOT NULL,
            last_seen INTEGER NOT NULL,
            boot INTEGER,
            fw TEXT,
            up_s INTEGER,
            mem_free INTEGER,
            rssi INTEGER,
            bat_v REAL,
            kind TEXT,
            port TEXT,
            frames INTEGER NOT NULL DEFAULT 0,
            bad_lines INTEGER NOT NULL DEFAULT 0,
            online INTEGER NOT NULL DEFAULT 1,
            interval_s INTEGER
        );
        CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE frames (
            id INTEGER PRIMARY KEY,
            node_id INTEGER NOT NULL,
            boot INTEGER NOT NULL,
            q INTEGER NOT NULL,
            at INTEGER NOT NULL,
            offset INTEGER
        );
        CREATE UNIQUE INDEX frames_key ON frames (node_id, boot, q);
        CREATE TABLE readings (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            frame_id INTEGER NOT NULL,
            name_id INTEGER NOT NULL,
            value REAL NOT NULL
        );
        CREATE TABLE latest (
            node_id INTEGER NOT NULL,
            name_id INTEGER NOT NULL,
            value REAL NOT NULL,
            at INTEGER NOT NULL,
            PRIMARY KEY (node_id, name_id)
        ) WITHOUT ROWID;
        CREATE TABLE series (
            node_id INTEGER NOT NULL,
            name_id INTEGER NOT NULL,
            bucket INTEGER NOT NULL,
            n INTEGER NOT NULL,
            total REAL NOT NULL,
            low REAL NOT NULL,
            high REAL NOT NULL,
            PRIMARY KEY (node_id, name_id, bucket)
        ) WITHOUT ROWID;
        CREATE TABLE console (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            at INTEGER NOT NULL,
            line TEXT NOT NULL
        );
        CREATE INDEX console_source ON console (source, id);
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
            offset INTEGER,
            node TEXT,
            kind TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE submissions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            uuid TEXT NOT NULL UNIQUE,
            number TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            day TEXT NOT NULL,
            at INTEGER NOT NULL,
            offset INTEGER,
            due_date TEXT,
            status TEXT NOT NULL DEFAULT 'diterima',
            answer TEXT,
            answered_at TEXT,
            updated_at INTEGER,
            public TEXT NOT NULL DEFAULT '{}',
            personal TEXT,
            purged_at INTEGER
        );
        CREATE INDEX submissions_day ON submissions (day);
        CREATE TABLE content (
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            data TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (kind, id)
        );
        CREATE TABLE sync_state (
            stream TEXT PRIMARY KEY,
            acked INTEGER NOT NULL DEFAULT 0,
            last_success INTEGER,
            last_error TEXT,
            last_error_at INTEGER
        );
        INSERT INTO sync_state (stream) VALUES ('readings'), ('events'), ('submissions');
        CREATE TABLE dead_letters (
            id INTEGER PRIMARY KEY,
            stream TEXT NOT NULL,
            seq INTEGER NOT NULL,
            at INTEGER NOT NULL,
            reason TEXT NOT NULL,
            record TEXT NOT NULL,
            UNIQUE (stream, seq)
        );
        """,
    ),
    (
        "0300-sync-files",
        """
        CREATE TABLE files (
            sha256 TEXT PRIMARY KEY,
            size INTEGER,
            fetched_at INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            updated_at INTEGER NOT NULL
        );
        """,
    ),
    (
        # The hash of each submission's status code (gateway.statuscode), and the lookups the kiosk asks the
        # sync process to relay to the central (a row lives only until the kiosk has read its answer).
        "0400-status-codes",
        """
        ALTER TABLE submissions ADD COLUMN access_hash TEXT;
        CREATE TABLE status_lookups (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL,
            code TEXT,
            requested_at INTEGER NOT NULL,
            answered_at INTEGER,
            answer TEXT
        );
        """,
    ),
    (
        # the latest value is the newest by the node's own order (boot, q), not by wall-clock stamps; a row
        # from before (boot NULL) is replaced by the next reading
        "0700-latest-node-order",
        """
        ALTER TABLE latest ADD COLUMN boot INTEGER;
        ALTER TABLE latest ADD COLUMN q INTEGER;
        """,
    ),
    (
        "0800-dead-letters-retry",
        # dead letters can be re-sent (retry_at: asked for at, NULL when not), count their attempts, and never
        # hold a citizen's personal data (it stays in submissions, purged only once the central has it);
        # sync_state counts the failures in a row of a stream's head batch (see sync/client/uplink.py)
        """
        ALTER TABLE dead_letters ADD COLUMN retry_at INTEGER;
        ALTER TABLE dead_letters ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
        UPDATE dead_letters SET record = json_remove(record, '$.personal') WHERE stream = 'submissions';
        ALTER TABLE sync_state ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sync_state ADD COLUMN failing_seq INTEGER;
        """,
    ),
    (
        "0900-submission-idempotency-key",
        # One submission per served form: the kiosk puts a random key in each form it serves, and a repeat
        # of the same key (a double tap, a resend) gets the first submission's receipt (Store.add_submission).
        """
        ALTER TABLE submissions ADD COLUMN idempotency_key TEXT;
        CREATE UNIQUE INDEX submissions_idempotency_key ON submissions (idempotency_key)
            WHERE idempotency_key IS NOT NULL;
        """,
    ),
    (
        "1000-submission-deadline-kind-attachments",
        # What the due date is the deadline of (the answer, a complaint's verification or follow-up, the day a
        # complaint closes by itself, or "none"), and the answer's documents as the central sent them: a JSON
        # list of {"name", "sha256", "size"}, whose bytes the sync side fetches like documents' files.
        """
        ALTER TABLE submissions ADD COLUMN due_kind TEXT;
        ALTER TABLE submissions ADD COLUMN attachments TEXT;
        """,
    ),
    (
        "1100-submission-sms",
        # The citizen ticked "Kabari saya lewat SMS": the central texts the phone number of the personal data
        # when an officer answers, extends, defers or closes (the record's optional "sms" field).
        """
        ALTER TABLE submissions ADD COLUMN notify_sms INTEGER NOT NULL DEFAULT 0;
        """,
    ),
    (
        "1200-skm-ratings",
        # Stream ``ratings``: the citizens' anonymous satisfaction ratings (Survei Kepuasan Masyarakat,
        # docs/skm.md). A row holds only the service rated, the day, and the nine ratings (1-4, NULL when
        # skipped): no time of day, no registration number, no NIK, no session. ``uuid`` makes a resend of
        # the same rating form idempotent. The stream's row in sync_state is made at its first sync
        # (Store._stream_state), so that an upgrade adds no row to any table.
        # A new rating waits in ``ratings_held`` until its day is over (``release_ms``, the end of the kiosk's
        # local day); then the day's ratings enter ``ratings`` in random order, so that neither their seqs
        # nor the time they reach the central can be set beside the day's submissions.
        """
        CREATE TABLE ratings_held (
            uuid TEXT PRIMARY KEY,
            service TEXT NOT NULL,
            day TEXT NOT NULL,
            u1 INTEGER, u2 INTEGER, u3 INTEGER, u4 INTEGER, u5 INTEGER,
            u6 INTEGER, u7 INTEGER, u8 INTEGER, u9 INTEGER,
            release_ms INTEGER NOT NULL
        );
        CREATE TABLE ratings (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            uuid TEXT NOT NULL UNIQUE,
            service TEXT NOT NULL,
            day TEXT NOT NULL,
            u1 INTEGER, u2 INTEGER, u3 INTEGER, u4 INTEGER, u5 INTEGER,
            u6 INTEGER, u7 INTEGER, u8 INTEGER, u9 INTEGER
        );
        """,
    ),
    (
        "1300-series-time-order",
        # The 5-minute aggregates keyed by time first (bucket, node, name): a commit's aggregates all go to
        # the newest rows, one or two pages at the table's end, instead of one place per node and measurement
        # scattered over the table (each a page written to the SD card at every commit: bench/field.py).
        """
        CREATE TABLE series_by_time (
            node_id INTEGER NOT NULL,
            name_id INTEGER NOT NULL,
            bucket INTEGER NOT NULL,
            n INTEGER NOT NULL,
            total REAL NOT NULL,
            low REAL NOT NULL,
            high REAL NOT NULL,
            PRIMARY KEY (bucket, node_id, name_id)
        ) WITHOUT ROWID;
        INSERT INTO series_by_time (node_id, name_id, bucket, n, total, low, high)
            SELECT node_id, name_id, bucket, n, total, low, high FROM series ORDER BY bucket, node_id, name_id;
        DROP TABLE series;
        ALTER TABLE series_by_time RENAME TO series;
        """,
    ),
    (
        "1400-frames-seen",
        # The frame keys (node, boot, q) seen, as exact intervals of q per (node, boot), instead of a unique
        # index over every frame: that index put each node's newest key on a page of its own, so a commit of a
        # minute's frames wrote one index page per node (bench/pages.py). A node's newest interval (the one
        # its frames extend) is kept in its row of ``nodes`` (``seen_boot``, ``seen_low``, ``seen_high``),
        # which every commit rewrites anyway; the others (a gap, an earlier boot, a late frame) are rows of
        # ``frames_seen``, which retention never deletes: a frame is stored at most once however late it
        # comes again. A node's frames of the last minutes are found by their ids, which rise with arrival.
        """
        CREATE TABLE frames_seen (
            node_id INTEGER NOT NULL,
            boot INTEGER NOT NULL,
            low INTEGER NOT NULL,
            high INTEGER NOT NULL,
            PRIMARY KEY (node_id, boot, low)
        ) WITHOUT ROWID;
        INSERT INTO frames_seen (node_id, boot, low, high)
            SELECT node_id, boot, min(q), max(q) FROM (
                SELECT node_id, boot, q, q - row_number() OVER (PARTITION BY node_id, boot ORDER BY q) AS run
                FROM frames
            ) GROUP BY node_id, boot, run ORDER BY node_id, boot, min(q);
        ALTER TABLE nodes ADD COLUMN seen_boot INTEGER;
        ALTER TABLE nodes ADD COLUMN seen_low INTEGER;
        ALTER TABLE nodes ADD COLUMN seen_high INTEGER;
        DROP INDEX frames_key;
        """,
    ),
]
