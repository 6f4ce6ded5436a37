-- Messages a stage could not use, with the reason, for an analyst to inspect and replay.
-- migrate:up
CREATE TABLE IF NOT EXISTS dead_letters
(
    failed_at DateTime64(3, 'UTC'),
    stage     LowCardinality(String),
    reason    String,
    topic     LowCardinality(String),
    partition Int32,
    offset    Int64,
    raw       String CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(failed_at)
ORDER BY (stage, topic, partition, offset, cityHash64(raw))
TTL toDateTime(failed_at) + INTERVAL 90 DAY;
-- migrate:down
DROP TABLE IF EXISTS dead_letters;
