-- Posts with their enrichment, one row per post.
-- ReplacingMergeTree is the backstop for exactly-once storage: the writer already skips ids it has
-- stored, and a copy that slips through a crash window collapses on merge (or with FINAL).
-- migrate:up
CREATE TABLE IF NOT EXISTS posts
(
    id              String,
    platform        LowCardinality(String),
    native_id       String,
    author_id       String,
    author_handle   String,
    text            String CODEC(ZSTD(3)),
    lang            LowCardinality(String) COMMENT 'language as the source labelled it',
    created_at      DateTime64(3, 'UTC'),
    url             String,
    reply_to        String,
    repost_of       String,
    quote_of        String,
    hashtags        Array(String),
    mentions        Array(String),
    links           Array(String),
    likes           UInt32,
    reposts         UInt32,
    replies         UInt32,
    quotes          UInt32,
    views           UInt64,
    source          LowCardinality(String),
    received_at     DateTime64(3, 'UTC'),
    raw             String CODEC(ZSTD(3)),
    detected_lang   LowCardinality(String),
    sentiment       Enum8('negative' = -1, 'neutral' = 0, 'positive' = 1),
    sentiment_score Float32,
    targets         Array(LowCardinality(String)),
    stances         Array(Enum8('against' = -1, 'none' = 0, 'favor' = 1)) COMMENT 'parallel to targets',
    stance_scores   Array(Float32) COMMENT 'parallel to targets',
    terms           Array(String),
    fingerprint     String,
    model           LowCardinality(String),
    enriched_at     DateTime64(3, 'UTC'),
    stored_at       DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_id id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_targets targets TYPE bloom_filter(0.01) GRANULARITY 2,
    INDEX idx_hashtags hashtags TYPE bloom_filter(0.01) GRANULARITY 2,
    INDEX idx_author author_id TYPE bloom_filter(0.01) GRANULARITY 2
)
ENGINE = ReplacingMergeTree(enriched_at)
PARTITION BY toDate(created_at)
ORDER BY (toStartOfHour(created_at), platform, id);
-- migrate:down
DROP TABLE IF EXISTS posts;
