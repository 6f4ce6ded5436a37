-- Every query of Pantau's Grafana dashboards, as plain ClickHouse SQL. This file is the only copy:
-- service/dashboards.py names these blocks and writes dashboards/json/*.json from them
-- (`python -m service.dashboards`). Grafana's macros are written here as query parameters, so a
-- block runs as it stands (clickhouse-client --param_from=... --param_to=...), and the generator
-- turns them back:
--   col >= {from:DateTime64(3)} AND col <= {to:DateTime64(3)}  ->  $__timeFilter(col)
--   {from:DateTime64(3)}                                        ->  $__fromTime
--   {to:DateTime64(3)}                                          ->  $__toTime
--   {interval_s:UInt32}                                         ->  $__interval_s
--   {NAME:String}                                               ->  ${NAME:sqlstring}  (a dashboard variable)
-- The test suite runs every block against the migrated engine with data loaded, and checks that every
-- block is on a dashboard and every dashboard query is a block.
--
-- Tables written as ReplacingMergeTree keep older versions of a row until a merge: the queries read
-- them with FINAL, or count distinct ids (uniqExact), so a row written twice is counted once.

-- ================================================================================================
-- War room
-- ================================================================================================

-- name: target_variable
SELECT DISTINCT target
FROM post_targets
ORDER BY target;

-- name: issue_onsets
SELECT
    opened_at AS time,
    arrayStringConcat(label, ' ') AS title,
    concat(
        toString(posts), ' posts from ', toString(accounts), ' accounts, growth x',
        toString(round(growth, 1)), ' (', status, ')'
    ) AS text,
    arrayConcat(['issue'], CAST(targets, 'Array(String)')) AS tags
FROM issues FINAL
WHERE merged_into = '' AND opened_at >= {from:DateTime64(3)} AND opened_at <= {to:DateTime64(3)}
ORDER BY time;

-- name: issues_now
SELECT
    id,
    arrayStringConcat(label, ' ') AS issue,
    status,
    arrayStringConcat(targets, ', ') AS on_targets,
    posts,
    accounts,
    round(growth, 1) AS growth_ratio,
    round(rate_per_hour, 1) AS posts_per_hour,
    opened_at,
    last_activity
FROM issues FINAL
WHERE merged_into = '' AND status != 'closed'
    AND opened_at <= {to:DateTime64(3)} AND last_activity >= {from:DateTime64(3)}
ORDER BY status = 'live' DESC, growth DESC, last_activity DESC
LIMIT 100;

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

-- name: share_of_voice
SELECT
    target,
    uniqExact(id) / sum(uniqExact(id)) OVER () AS share
FROM post_targets
WHERE created_at >= {from:DateTime64(3)} AND created_at <= {to:DateTime64(3)}
GROUP BY target
ORDER BY share DESC, target;

-- name: sentiment_stance_by_target
SELECT
    target,
    uniqExact(id) AS posts,
    uniqExactIf(id, sentiment = 'positive') / posts AS positive,
    uniqExactIf(id, sentiment = 'neutral') / posts AS neutral,
    uniqExactIf(id, sentiment = 'negative') / posts AS negative,
    uniqExactIf(id, stance = 'favor') / posts AS favor,
    uniqExactIf(id, stance = 'none') / posts AS no_stance,
    uniqExactIf(id, stance = 'against') / posts AS against
FROM post_targets
WHERE created_at >= {from:DateTime64(3)} AND created_at <= {to:DateTime64(3)}
GROUP BY target
ORDER BY posts DESC, target;

-- name: sentiment_share
SELECT
    toStartOfInterval(minute, toIntervalSecond(greatest(60, {interval_s:UInt32}))) AS time,
    toString(sentiment) AS sentiment,
    uniqExactMerge(posts) / sum(uniqExactMerge(posts)) OVER (PARTITION BY time) AS share
FROM minute_stats
WHERE target = {target:String} AND minute >= {from:DateTime64(3)} AND minute <= {to:DateTime64(3)}
GROUP BY time, sentiment
ORDER BY time, sentiment;

-- name: stance_share
SELECT
    toStartOfInterval(minute, toIntervalSecond(greatest(60, {interval_s:UInt32}))) AS time,
    toString(stance) AS stance,
    uniqExactMerge(posts) / sum(uniqExactMerge(posts)) OVER (PARTITION BY time) AS share
FROM minute_stats
WHERE target = {target:String} AND minute >= {from:DateTime64(3)} AND minute <= {to:DateTime64(3)}
GROUP BY time, stance
ORDER BY time, stance;

-- name: coordinated_campaigns
SELECT
    created_at,
    target,
    toUInt32(numbers['accounts']) AS accounts,
    toUInt32(numbers['posts']) AS posts,
    details['text'] AS text,
    details['accounts'] AS account_ids,
    status
FROM alerts FINAL
WHERE kind = 'coordinated_posting'
    AND created_at >= {from:DateTime64(3)} AND created_at <= {to:DateTime64(3)}
ORDER BY created_at DESC
LIMIT 100;

-- name: top_hashtags
SELECT
    arrayJoin(hashtags) AS hashtag,
    uniqExact(id) AS posts
FROM posts
WHERE created_at >= {to:DateTime64(3)} - INTERVAL 1 HOUR AND created_at <= {to:DateTime64(3)}
GROUP BY hashtag
ORDER BY posts DESC, hashtag
LIMIT 20;

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

-- ================================================================================================
-- Target drill-down
-- ================================================================================================

-- name: target_posts_over_time
SELECT
    toStartOfInterval(minute, toIntervalSecond(greatest(60, {interval_s:UInt32}))) AS time,
    uniqExactMerge(posts) AS posts,
    uniqMerge(authors) AS accounts
FROM minute_stats
WHERE target = {target:String} AND minute >= {from:DateTime64(3)} AND minute <= {to:DateTime64(3)}
GROUP BY time
ORDER BY time;

-- name: target_top_accounts
SELECT
    author_handle AS account,
    platform,
    count() AS posts,
    sum(reposts) AS reposts_received,
    sum(likes) AS likes_received,
    sum(views) AS views,
    countIf(stances[indexOf(targets, {target:String})] = 'favor') AS favor,
    countIf(stances[indexOf(targets, {target:String})] = 'against') AS against
FROM posts FINAL
WHERE has(targets, {target:String})
    AND created_at >= {from:DateTime64(3)} AND created_at <= {to:DateTime64(3)}
GROUP BY account, platform
ORDER BY reposts_received + likes_received DESC, posts DESC, account
LIMIT 50;

-- name: target_hashtags
SELECT
    arrayJoin(hashtags) AS hashtag,
    uniqExact(id) AS posts
FROM posts
WHERE has(targets, {target:String})
    AND created_at >= {from:DateTime64(3)} AND created_at <= {to:DateTime64(3)}
GROUP BY hashtag
ORDER BY posts DESC, hashtag
LIMIT 20;

-- name: target_issues
SELECT
    id,
    arrayStringConcat(label, ' ') AS issue,
    status,
    posts,
    accounts,
    round(growth, 1) AS growth_ratio,
    opened_at,
    last_activity
FROM issues FINAL
WHERE merged_into = '' AND has(targets, {target:String})
    AND opened_at <= {to:DateTime64(3)} AND last_activity >= {from:DateTime64(3)}
ORDER BY opened_at DESC
LIMIT 100;

-- name: target_alerts
SELECT
    created_at,
    severity,
    kind,
    title,
    status,
    assignee
FROM alerts FINAL
WHERE target = {target:String}
    AND created_at >= {from:DateTime64(3)} AND created_at <= {to:DateTime64(3)}
ORDER BY created_at DESC
LIMIT 200;

-- name: target_latest_posts
SELECT
    created_at,
    platform,
    author_handle AS account,
    sentiment,
    stances[indexOf(targets, {target:String})] AS stance,
    text,
    url
FROM posts FINAL
WHERE has(targets, {target:String})
    AND created_at >= {from:DateTime64(3)} AND created_at <= {to:DateTime64(3)}
ORDER BY created_at DESC
LIMIT 100;

-- ================================================================================================
-- Issue drill-down
-- ================================================================================================

-- name: issue_variable
SELECT
    id,
    concat(arrayStringConcat(label, ' '), ' [', status, ', ', id, ']') AS issue
FROM issues FINAL
WHERE merged_into = ''
ORDER BY last_activity DESC
LIMIT 200;

-- name: issue_summary
SELECT
    arrayStringConcat(label, ' ') AS issue,
    status,
    arrayStringConcat(targets, ', ') AS on_targets,
    arrayStringConcat(signal_kinds, ', ') AS signals,
    first_post_at,
    opened_at,
    paged_at,
    last_activity,
    arrayStringConcat(merged_from, ', ') AS merged_from_issues
FROM issues FINAL
WHERE id = {issue:String};

-- name: issue_numbers
SELECT
    posts,
    accounts,
    voices,
    reposts,
    round(rate_per_hour, 1) AS posts_per_hour,
    round(growth, 1) AS growth_ratio,
    length(coordination) AS coordinated_accounts
FROM issues FINAL
WHERE id = {issue:String};

-- name: issue_posts_over_time
SELECT
    toStartOfInterval(created_at, toIntervalSecond(greatest(60, {interval_s:UInt32}))) AS time,
    uniqExact(post_id) AS posts
FROM issue_posts
WHERE issue_id = {issue:String}
    AND created_at >= {from:DateTime64(3)} AND created_at <= {to:DateTime64(3)}
GROUP BY time
ORDER BY time;

-- name: issue_accounts
WITH (SELECT any(coordination) FROM issues FINAL WHERE id = {issue:String}) AS coordinated_ids
SELECT
    author_handle AS account,
    platform,
    countIf(repost_of = '') AS own_posts,
    countIf(repost_of != '') AS reposts_made,
    sum(reposts) AS reposts_received,
    sum(likes) AS likes_received,
    max(has(coordinated_ids, author_id)) AS coordinated
FROM posts FINAL
WHERE id IN (SELECT post_id FROM issue_posts WHERE issue_id = {issue:String})
GROUP BY account, platform
ORDER BY own_posts + reposts_made DESC, reposts_received DESC, account
LIMIT 100;

-- name: issue_label_terms
SELECT
    term,
    countIf(positionCaseInsensitive(p.text, term) > 0) AS posts
FROM
(
    SELECT arrayJoin(label) AS term
    FROM issues FINAL
    WHERE id = {issue:String}
) AS l
CROSS JOIN
(
    SELECT text
    FROM posts FINAL
    WHERE id IN (SELECT post_id FROM issue_posts WHERE issue_id = {issue:String})
) AS p
GROUP BY term
ORDER BY posts DESC, term;

-- name: issue_sentiment
SELECT
    toString(sentiment) AS sentiment,
    count() AS posts
FROM posts FINAL
WHERE id IN (SELECT post_id FROM issue_posts WHERE issue_id = {issue:String})
GROUP BY sentiment
ORDER BY sentiment;

-- name: issue_stance
SELECT
    target,
    countIf(stance = 'favor') AS favor,
    countIf(stance = 'none') AS no_stance,
    countIf(stance = 'against') AS against
FROM posts FINAL
ARRAY JOIN targets AS target, stances AS stance
WHERE id IN (SELECT post_id FROM issue_posts WHERE issue_id = {issue:String})
GROUP BY target
ORDER BY favor + no_stance + against DESC, target;

-- name: issue_post_list
SELECT
    created_at,
    platform,
    author_handle AS account,
    if(repost_of = '', 'post', 'repost') AS kind,
    sentiment,
    text,
    url
FROM posts FINAL
WHERE id IN (SELECT post_id FROM issue_posts WHERE issue_id = {issue:String})
ORDER BY created_at
LIMIT 200;

-- ================================================================================================
-- Operations
-- ================================================================================================

-- name: posts_per_stage_per_minute
SELECT
    toStartOfMinute(stage_time) AS time,
    stage,
    uniqExact(id) AS posts
FROM posts
ARRAY JOIN
    ['received', 'enriched', 'stored'] AS stage,
    [received_at, enriched_at, stored_at] AS stage_time
WHERE stage_time >= {from:DateTime64(3)} AND stage_time <= {to:DateTime64(3)}
GROUP BY time, stage
ORDER BY time, stage;

-- name: stage_lag
SELECT
    toStartOfMinute(stored_at) AS time,
    quantileExact(0.95)(dateDiff('millisecond', created_at, received_at)) / 1000 AS source_to_received_p95,
    quantileExact(0.95)(dateDiff('millisecond', received_at, enriched_at)) / 1000 AS received_to_enriched_p95,
    quantileExact(0.95)(dateDiff('millisecond', enriched_at, stored_at)) / 1000 AS enriched_to_stored_p95,
    quantileExact(0.95)(dateDiff('millisecond', received_at, stored_at)) / 1000 AS received_to_stored_p95
FROM posts FINAL
WHERE stored_at >= {from:DateTime64(3)} AND stored_at <= {to:DateTime64(3)}
GROUP BY time
ORDER BY time;

-- name: dead_letters_per_minute
SELECT
    toStartOfMinute(failed_at) AS time,
    stage,
    count() AS messages
FROM dead_letters FINAL
WHERE failed_at >= {from:DateTime64(3)} AND failed_at <= {to:DateTime64(3)}
GROUP BY time, stage
ORDER BY time, stage;

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

-- name: notification_deliveries
SELECT
    toStartOfInterval(started_at, toIntervalSecond(greatest(60, {interval_s:UInt32}))) AS time,
    status,
    count() AS deliveries
FROM notification_log FINAL
WHERE started_at >= {from:DateTime64(3)} AND started_at <= {to:DateTime64(3)}
GROUP BY time, status
ORDER BY time, status;

-- name: notification_failures
SELECT
    started_at,
    receiver,
    channel,
    channel_type,
    reason,
    status,
    attempts,
    error,
    length(alert_ids) AS alerts
FROM notification_log FINAL
WHERE status != 'delivered'
    AND started_at >= {from:DateTime64(3)} AND started_at <= {to:DateTime64(3)}
ORDER BY started_at DESC
LIMIT 200;
