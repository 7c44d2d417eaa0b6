"""The one rule for options in seconds and in messages a second (mailcore.Seconds,
mailcore.PerSecond), used by the SMTP and SES backends: inf, nan and absurd values
are refused naming the option, never accepted to crash later."""

from __future__ import annotations

import math

import pytest

import mailcore
from mailcore import ConfigurationError, RateLimiter
from tests.cli.command import run_mailcore

SECONDS = ["timeout", "connect_timeout", "data_timeout", "idle_timeout"]
BAD_SECONDS: list[object] = [math.inf, -math.inf, math.nan, "inf", "nan", 86400.5, 1e10, 0, -1]


@pytest.mark.parametrize("option", SECONDS)
@pytest.mark.parametrize("value", BAD_SECONDS)
def test_smtp_seconds_options_refuse_inf_nan_and_more_than_a_day(
    option: str, value: object
) -> None:
    with pytest.raises(ConfigurationError, match=f"'smtp.{option}'"):
        mailcore.get_connection("smtp", host="127.0.0.1", **{option: value})


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (0, "Input should be greater than 0 (got 0)"),
        (-1, "Input should be greater than 0 (got -1)"),
        (1e10, "Input should be less than or equal to 86400 (got 10000000000.0)"),
    ],
)
def test_a_refused_number_is_shown_even_when_the_reason_holds_the_same_digits(
    value: float, reason: str
) -> None:
    # "greater than 0" holds a 0, but does not say that 0 was what was given
    with pytest.raises(ConfigurationError) as caught:
        mailcore.get_connection("smtp", host="127.0.0.1", idle_timeout=value)
    assert str(caught.value) == (
        f"invalid setting 'smtp.idle_timeout' (given as an argument): {reason}"
    )


@pytest.mark.parametrize("option", SECONDS)
def test_smtp_seconds_options_take_up_to_one_day(option: str) -> None:
    backend = mailcore.get_connection("smtp", host="127.0.0.1", **{option: 86400})
    assert getattr(backend.options, option) == 86400.0


@pytest.mark.parametrize("value", [math.inf, math.nan, 3601, 1e300])
def test_retry_backoff_refuses_inf_nan_and_more_than_an_hour(value: float) -> None:
    with pytest.raises(ConfigurationError, match=r"'smtp\.retry_backoff'"):
        mailcore.get_connection("smtp", host="127.0.0.1", retry_backoff=value)


@pytest.mark.parametrize("backend", ["smtp", "ses"])
@pytest.mark.parametrize(
    ("value", "says"),
    [
        (math.inf, "finite number"),
        ("inf", "finite number"),
        (math.nan, "finite number"),
        (1e-9, "at least 1/3600 (one message an hour)"),
        (0, "at least 1/3600"),
        (-2, "at least 1/3600"),
        (1e9, "at most 1000000"),
    ],
)
def test_max_per_second_refuses_inf_nan_and_absurd_rates(
    backend: str, value: object, says: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"'{backend}.max_per_second'") as caught:
        mailcore.get_connection(backend, max_per_second=value)
    assert says in str(caught.value)


@pytest.mark.parametrize("backend", ["smtp", "ses"])
@pytest.mark.parametrize("value", [1 / 3600, 0.5, 14.0, 1_000_000])
def test_max_per_second_takes_one_an_hour_up_to_a_million(backend: str, value: float) -> None:
    connection = mailcore.get_connection(backend, max_per_second=value)
    assert connection.options.max_per_second == value


def test_rate_limiter_refuses_a_rate_that_is_not_finite_and_positive() -> None:
    for rate in (math.inf, math.nan, 0.0, -1.0):
        with pytest.raises(ValueError, match="finite number above 0"):
            RateLimiter(rate)
    assert RateLimiter(None).rate is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAILCORE_SMTP_MAX_PER_SECOND", "inf"),
        ("MAILCORE_SMTP_IDLE_TIMEOUT", "inf"),
        ("MAILCORE_SMTP_IDLE_TIMEOUT", "1e10"),
        ("MAILCORE_SES_MAX_PER_SECOND", "inf"),
    ],
)
def test_check_reports_an_infinite_setting_as_a_one_line_error(variable: str, value: str) -> None:
    backend = "ses" if "_SES_" in variable else "smtp"
    run = run_mailcore("check", "--backend", backend, env={variable: value})
    assert run.status != 0, run
    assert "Traceback" not in run.stderr and "bug" not in run.stderr, run
    option = variable.split("_", 2)[2].lower()
    assert len(run.error_lines) == 1, run
    assert f"'{backend}.{option}'" in run.error_lines[0], run
