-- Issues for analysts and the war room. The live state is in Redis (alerts.issue_store); every
-- version of an issue the issue stage publishes is written here (ReplacingMergeTree keeps the
-- latest per id), and issue_posts keeps which posts joined which issue, for its timeline.
-- migrate:up
CREATE TABLE IF NOT EXISTS issues
(
    id                String,
    status            LowCardinality(String),
    label             Array(String),
    targets           Array(LowCardinality(String)),
    first_post_at     DateTime64(3, 'UTC'),
    opened_at         DateTime64(3, 'UTC'),
    paged_at          Nullable(DateTime64(3, 'UTC')),
    last_activity     DateTime64(3, 'UTC'),
    posts             UInt32,
    accounts          UInt32,
    voices            UInt32,
    reposts           UInt32,
    rate_per_hour     Float64,
    baseline_per_hour Float64,
    growth            Float64,
    scale_seconds     UInt32,
    signal_kinds      Array(LowCardinality(String)),
    amplifiers        Map(String, UInt32),
    coordination      Array(String),
    representatives   Array(String),
    first_posts       Array(String),
    merged_from       Array(String),
    merged_into       String,
    record            String CODEC(ZSTD(3)) COMMENT 'the whole Issue as JSON, as GET /issues/{id} gives it',
    updated_at        DateTime64(6, 'UTC')
)
-- Not partitioned: a merge moves opened_at earlier, and versions in two partitions never collapse
-- (an issue is a few KB; even years of them are a small table).
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY id;
CREATE TABLE IF NOT EXISTS issue_posts
(
    issue_id   String,
    post_id    String,
    created_at DateTime64(3, 'UTC') COMMENT 'the post''s own time',
    joined_at  DateTime64(3, 'UTC') COMMENT 'event time of the stage when the post joined'
)
-- A membership written twice (a checkpoint retried after a crash) is one row.
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (issue_id, post_id);
-- migrate:down
DROP TABLE IF EXISTS issue_posts;
DROP TABLE IF EXISTS issues;
