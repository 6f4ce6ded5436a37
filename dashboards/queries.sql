-- The war-room dashboard's queries (dashboards/json/war-room.json) as plain ClickHouse SQL.
-- Each block is one panel; Grafana's macros are written as query parameters:
--   $__timeFilter(col)   ->  col >= {from:DateTime64(3)} AND col <= {to:DateTime64(3)}
--   $__fromTime          ->  {from:DateTime64(3)}
--   $__toTime            ->  {to:DateTime64(3)}
--   ${target:sqlstring}  ->  {target:String}
-- The test suite runs every block against the real engine after the migrations, so a schema change
-- that breaks a panel breaks a test. Keep the two files in step.

-- name: target_variable
SELECT DISTINCT target
FROM post_targets
ORDER BY target;

-- name: posts_per_minute
SELECT
    minute AS time,
    uniqExactMerge(posts) AS posts
FROM minute_stats
WHERE target = '' AND minute >= {from:DateTime64(3)} AND minute <= {to:DateTime64(3)}
GROUP BY minute
ORDER BY time;

-- name: posts_per_minute_by_target
SELECT
    minute AS time,
    target,
    uniqExactMerge(posts) AS posts
FROM minute_stats
WHERE target != '' AND minute >= {from:DateTime64(3)} AND minute <= {to:DateTime64(3)}
GROUP BY minute, target
ORDER BY time, target;

-- name: sentiment_share
SELECT
    minute AS time,
    toString(sentiment) AS sentiment,
    uniqExactMerge(posts) / sum(uniqExactMerge(posts)) OVER (PARTITION BY minute) AS share
FROM minute_stats
WHERE target = {target:String} AND minute >= {from:DateTime64(3)} AND minute <= {to:DateTime64(3)}
GROUP BY minute, sentiment
ORDER BY time, sentiment;

-- name: stance_share
SELECT
    minute AS time,
    toString(stance) AS stance,
    uniqExactMerge(posts) / sum(uniqExactMerge(posts)) OVER (PARTITION BY minute) AS share
FROM minute_stats
WHERE target = {target:String} AND minute >= {from:DateTime64(3)} AND minute <= {to:DateTime64(3)}
GROUP BY minute, stance
ORDER BY time, stance;

-- name: open_alerts
SELECT
    created_at,
    severity,
    kind,
    title,
    target,
    status
FROM alerts FINAL
WHERE status != 'resolved'
ORDER BY created_at DESC
LIMIT 500;

-- name: top_hashtags
SELECT
    arrayJoin(hashtags) AS hashtag,
    uniqExact(id) AS posts
FROM posts
WHERE created_at >= {to:DateTime64(3)} - INTERVAL 1 HOUR AND created_at <= {to:DateTime64(3)}
GROUP BY hashtag
ORDER BY posts DESC, hashtag
LIMIT 20;

-- name: dead_letters
SELECT
    stage,
    reason,
    count() AS messages,
    max(failed_at) AS last_failed_at
FROM dead_letters FINAL
WHERE failed_at >= {from:DateTime64(3)} AND failed_at <= {to:DateTime64(3)}
GROUP BY stage, reason
ORDER BY messages DESC, stage, reason;
