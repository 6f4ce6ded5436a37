-- One row per (post, target it names), ordered for per-target time-range queries:
-- "everything about target X between T1 and T2" reads one contiguous range.
-- migrate:up
CREATE TABLE IF NOT EXISTS post_targets
(
    target        LowCardinality(String),
    created_at    DateTime64(3, 'UTC'),
    id            String,
    platform      LowCardinality(String),
    author_id     String,
    detected_lang LowCardinality(String),
    sentiment     Enum8('negative' = -1, 'neutral' = 0, 'positive' = 1),
    stance        Enum8('against' = -1, 'none' = 0, 'favor' = 1),
    stance_score  Float32
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(created_at)
ORDER BY (target, created_at, id);
CREATE MATERIALIZED VIEW IF NOT EXISTS post_targets_mv TO post_targets AS
SELECT
    target, created_at, id, platform, author_id, detected_lang, sentiment, stance, stance_score
FROM posts
ARRAY JOIN targets AS target, stances AS stance, stance_scores AS stance_score;
-- migrate:down
DROP VIEW IF EXISTS post_targets_mv;
DROP TABLE IF EXISTS post_targets;
