-- What rapid-response staff do with an alert (assign, resolve), the labels routing matched on,
-- escalation, and the log of every notification delivery attempt.
-- migrate:up
ALTER TABLE alerts
    ADD COLUMN IF NOT EXISTS labels       Map(LowCardinality(String), String),
    ADD COLUMN IF NOT EXISTS details      Map(LowCardinality(String), String),
    ADD COLUMN IF NOT EXISTS assignee     String,
    ADD COLUMN IF NOT EXISTS assigned_by  String,
    ADD COLUMN IF NOT EXISTS assigned_at  Nullable(DateTime64(3, 'UTC')),
    ADD COLUMN IF NOT EXISTS renewed_at   Nullable(DateTime64(3, 'UTC')),
    ADD COLUMN IF NOT EXISTS resolved_by  String,
    ADD COLUMN IF NOT EXISTS resolved_at  Nullable(DateTime64(3, 'UTC')),
    ADD COLUMN IF NOT EXISTS escalated_at Nullable(DateTime64(3, 'UTC'));
CREATE TABLE IF NOT EXISTS notification_log
(
    notification_id String,
    receiver        LowCardinality(String),
    channel         LowCardinality(String),
    channel_type    LowCardinality(String),
    reason          LowCardinality(String),
    status          LowCardinality(String),
    attempts        UInt8,
    error           String,
    alert_ids       Array(String),
    started_at      DateTime64(3, 'UTC'),
    finished_at     DateTime64(3, 'UTC')
)
-- A delivery logged twice (a retried write) is one row.
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (receiver, started_at, notification_id, channel)
TTL toDateTime(started_at) + INTERVAL 180 DAY;
-- migrate:down
DROP TABLE IF EXISTS notification_log;
ALTER TABLE alerts
    DROP COLUMN IF EXISTS escalated_at,
    DROP COLUMN IF EXISTS resolved_at,
    DROP COLUMN IF EXISTS resolved_by,
    DROP COLUMN IF EXISTS renewed_at,
    DROP COLUMN IF EXISTS assigned_at,
    DROP COLUMN IF EXISTS assigned_by,
    DROP COLUMN IF EXISTS assignee,
    DROP COLUMN IF EXISTS details,
    DROP COLUMN IF EXISTS labels;
