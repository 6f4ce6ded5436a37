-- Per-minute volume by target (and '' for all posts), platform, sentiment and stance.
-- Posts are counted as distinct ids (uniqExact of a 64-bit hash), so a copy that slips past the
-- writer's duplicate check is still counted once.
-- migrate:up
CREATE TABLE IF NOT EXISTS minute_stats
(
    minute    DateTime('UTC'),
    target    LowCardinality(String),
    platform  LowCardinality(String),
    sentiment Enum8('negative' = -1, 'neutral' = 0, 'positive' = 1),
    stance    Enum8('against' = -1, 'none' = 0, 'favor' = 1),
    posts     AggregateFunction(uniqExact, UInt64),
    authors   AggregateFunction(uniq, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (target, minute, platform, sentiment, stance);
CREATE MATERIALIZED VIEW IF NOT EXISTS minute_stats_mv TO minute_stats AS
SELECT
    toStartOfMinute(created_at) AS minute,
    target,
    platform,
    sentiment,
    stance,
    uniqExactState(cityHash64(id)) AS posts,
    uniqState(author_id) AS authors
FROM posts
ARRAY JOIN
    arrayConcat([''], targets) AS target,
    arrayConcat(CAST(['none'], 'Array(Enum8(\'against\' = -1, \'none\' = 0, \'favor\' = 1))'), stances) AS stance
GROUP BY minute, target, platform, sentiment, stance;
-- migrate:down
DROP VIEW IF EXISTS minute_stats_mv;
DROP TABLE IF EXISTS minute_stats;
