"""api.auth without Redis: the key format, roles, hashing, and the bootstrap key's rules."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from api.auth import (
    ApiKey,
    Authenticator,
    KeyStore,
    RedisBreaker,
    Role,
    hash_secret,
    new_key,
    parse_key,
    validate_admin_key,
)

KEY_SHAPE = re.compile(r"pk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def test_roles_include_the_roles_below_them_and_no_more() -> None:
    assert [str(role) for role in Role] == ["viewer", "responder", "admin"]
    allowed = {(have, need) for have in Role for need in Role if have.allows(need)}
    assert allowed == {
        (Role.viewer, Role.viewer),
        (Role.responder, Role.viewer),
        (Role.responder, Role.responder),
        (Role.admin, Role.viewer),
        (Role.admin, Role.responder),
        (Role.admin, Role.admin),
    }


def test_a_new_key_has_the_documented_shape_and_parses_back_to_its_id_and_secret() -> None:
    record, key = new_key("dashboard-1", Role.responder)
    assert KEY_SHAPE.fullmatch(key), key
    parsed = parse_key(key)
    assert parsed is not None
    key_id, secret = parsed
    assert key_id == record.id
    assert key == f"pk_{key_id}_{secret}"
    assert (record.name, record.role, record.active) == ("dashboard-1", Role.responder, True)


def test_a_stored_record_holds_the_hash_of_the_secret_and_never_the_secret() -> None:
    record, key = new_key("ops@example.org", Role.admin)
    _, secret = parse_key(key) or ("", "")
    assert record.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest() == hash_secret(secret)
    stored = record.model_dump_json()
    assert secret not in stored and key not in stored
    assert ApiKey.model_validate_json(stored) == record
    public = record.public()
    assert "secret_sha256" not in public and record.secret_sha256 not in str(public)


def test_every_new_key_is_different() -> None:
    keys = {new_key("same-name", Role.viewer)[1] for _ in range(200)}
    assert len(keys) == 200


@pytest.mark.parametrize("name", ["", "x" * 65, "has space", "semi;colon", "ünïcode", "new\nline"])
def test_key_names_outside_the_allowed_characters_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="1 to 64 characters"):
        new_key(name, Role.viewer)


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "pk_",
        "pk_0123456789ab",
        "pk_0123456789ab_",
        "pk_0123456789ab_" + "a" * 42,  # secret one character short
        "pk_0123456789AB_" + "a" * 43,  # upper-case id
        "pk_0123456789a_" + "a" * 43,  # id one character short
        "PK_0123456789ab_" + "a" * 43,
        "pk_0123456789ab_" + "a" * 43 + "\n",
        " pk_0123456789ab_" + "a" * 43,
        "pk_0123456789ab_" + "a" * 42 + "=",
        "pk_0123456789ab_" + "a" * 129,
    ],
)
def test_malformed_keys_parse_to_none(presented: str) -> None:
    assert parse_key(presented) is None


@given(st.text())
def test_any_string_parses_to_none_or_to_the_parts_it_is_made_of(presented: str) -> None:
    parsed = parse_key(presented)
    if parsed is not None:
        key_id, secret = parsed
        assert presented == f"pk_{key_id}_{secret}"
        assert re.fullmatch(r"[0-9a-f]{12}", key_id) and re.fullmatch(r"[A-Za-z0-9_-]{43,128}", secret)


@given(st.text(alphabet=st.characters(exclude_characters="ABCDEFabcdef0123456789")))
def test_strings_without_any_hex_digit_never_parse(presented: str) -> None:
    assert parse_key(presented) is None


@given(st.integers(min_value=0, max_value=58), st.characters())
def test_a_valid_key_with_one_character_replaced_by_a_foreign_one_parses_to_none(
    position: int, replacement: str
) -> None:
    _, key = new_key("k", Role.viewer)
    if re.fullmatch(r"[A-Za-z0-9_-]", replacement):
        replacement = "/"  # characters a key may hold could make another valid key
    mangled = key[:position] + replacement + key[position + 1 :]
    assert parse_key(mangled) is None


@pytest.mark.parametrize("unset", [None, "", SecretStr("")])
def test_an_unset_or_empty_bootstrap_key_means_none(unset: str | SecretStr | None) -> None:
    assert validate_admin_key(unset) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("short-key", "at least 16"),
        ("x" * 15, "at least 16"),
        ("sixteen chars ok", "without spaces"),
        ("tab\tinside-the-key", "without spaces"),
        ("ünïcode-admin-key-long", "printable ASCII"),
    ],
)
def test_unusable_bootstrap_keys_are_refused_with_the_reason(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        validate_admin_key(SecretStr(value))
    assert value not in str(caught.value)


def test_a_usable_bootstrap_key_is_kept_as_a_secret() -> None:
    value = "correct-horse-battery-staple"
    validated = validate_admin_key(value)
    assert isinstance(validated, SecretStr) and validated.get_secret_value() == value
    assert value not in repr(validated)


def test_the_authenticator_refuses_a_short_bootstrap_key_at_start_up() -> None:
    store = KeyStore(redis=None, cache_seconds=0)  # type: ignore[arg-type]  # never reached
    with pytest.raises(ValueError, match=r"PANTAU_ADMIN_KEY: .*at least 16"):
        Authenticator(store, admin_key=SecretStr("too-short"))


def test_the_redis_breaker_opens_on_a_failure_for_its_cool_off_and_closes_on_a_success() -> None:
    now = [100.0]
    breaker = RedisBreaker(cool_off_seconds=5.0, clock=lambda: now[0])
    assert not breaker.open
    breaker.failed()
    now[0] = 104.9
    assert breaker.open
    now[0] = 105.0
    assert not breaker.open  # one call may try Redis again
    breaker.failed()
    breaker.succeeded()
    assert not breaker.open
