-- Alert history. The live state is in Redis; every change of an alert is written here as a new
-- version (ReplacingMergeTree keeps the latest per id), and alert_events keeps the full log.
-- migrate:up
CREATE TABLE IF NOT EXISTS alerts
(
    id          String,
    fingerprint String,
    kind        LowCardinality(String),
    key_kind    LowCardinality(String),
    key         String,
    target      LowCardinality(String),
    severity    Enum8('info' = 0, 'warning' = 1, 'critical' = 2),
    status      Enum8('open' = 0, 'acknowledged' = 1, 'resolved' = 2),
    title       String,
    summary     String,
    numbers     Map(String, Float64),
    evidence    Array(String),
    signal_ids  Array(String),
    first_seen  DateTime64(3, 'UTC'),
    last_seen   DateTime64(3, 'UTC'),
    created_at  DateTime64(3, 'UTC'),
    updated_at  DateTime64(6, 'UTC'),
    acked_by    String,
    acked_at    Nullable(DateTime64(3, 'UTC'))
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY id;
CREATE TABLE IF NOT EXISTS alert_events
(
    alert_id String,
    at       DateTime64(6, 'UTC'),
    event    LowCardinality(String),
    actor    String,
    status   Enum8('open' = 0, 'acknowledged' = 1, 'resolved' = 2),
    details  String
)
-- A change written twice (a retry after a crash) is one change.
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (alert_id, at, event);
-- migrate:down
DROP TABLE IF EXISTS alert_events;
DROP TABLE IF EXISTS alerts;
