"""SES options come from arguments, configure(), MAILCORE_SES_*, .env and [ses]; never keys."""

from __future__ import annotations

from pathlib import Path

import pytest

import mailcore
from mailcore import ConfigurationError
from mailcore_ses import SESBackend, SESOptions


def test_defaults() -> None:
    backend = SESBackend()

    assert backend.options == SESOptions(
        region=None, configuration_set=None, endpoint_url=None, tags={}, from_arn=None
    )
    assert set(backend.option_sources.values()) == {"default"}


def test_get_connection_kwargs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILCORE_SES_REGION", "us-east-1")

    backend = mailcore.get_connection("ses", region="eu-central-1", tags={"app": "shop"})

    assert isinstance(backend, SESBackend)
    assert backend.options.region == "eu-central-1"
    assert backend.options.tags == {"app": "shop"}
    assert backend.option_sources["region"] == "argument"


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILCORE_SES_REGION", "us-west-2")
    monkeypatch.setenv("MAILCORE_SES_CONFIGURATION_SET", "marketing")
    monkeypatch.setenv("MAILCORE_SES_TAGS", '{"campaign": "spring-sale"}')
    monkeypatch.setenv("MAILCORE_SES_FROM_ARN", "arn:aws:ses:us-west-2:1:identity/example.com")

    options = SESBackend().options

    assert options.region == "us-west-2"
    assert options.configuration_set == "marketing"
    assert options.tags == {"campaign": "spring-sale"}
    assert options.from_arn == "arn:aws:ses:us-west-2:1:identity/example.com"


def test_toml_table_and_dotenv(isolated_settings: Path) -> None:
    (isolated_settings / "mailcore.toml").write_text(
        'backend = "ses"\n'
        "[ses]\n"
        'region = "ap-southeast-2"\n'
        'configuration_set = "from-toml"\n'
        'tags = { team = "billing" }\n',
        encoding="utf-8",
    )
    (isolated_settings / ".env").write_text(
        "MAILCORE_SES_CONFIGURATION_SET=from-dotenv\n", encoding="utf-8"
    )
    mailcore.configure()  # settings were read before the files existed: read them again

    backend = mailcore.get_connection()

    assert isinstance(backend, SESBackend)
    assert backend.options.region == "ap-southeast-2"
    assert backend.options.tags == {"team": "billing"}
    assert backend.options.configuration_set == "from-dotenv"
    assert backend.option_sources["region"] == "toml"
    assert backend.option_sources["configuration_set"] == ".env"


def test_configure_sets_the_options_in_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILCORE_SES_REGION", "us-east-1")

    mailcore.configure(backend="ses", ses={"region": "eu-north-1", "configuration_set": "cs"})
    backend = mailcore.get_connection()

    assert isinstance(backend, SESBackend)
    assert backend.options.region == "eu-north-1"
    assert backend.options.configuration_set == "cs"


def test_credentials_are_not_options() -> None:
    with pytest.raises(ConfigurationError, match="unknown option 'aws_secret_access_key'"):
        SESBackend(aws_secret_access_key="wJalrXUtnFEMI")


@pytest.mark.parametrize(
    ("tags", "problem"),
    [
        ({"has space": "x"}, "tag name 'has space'"),
        ({"campaign": "ünïcode"}, "tag value 'ünïcode'"),
        ({"campaign": ""}, "tag value ''"),
    ],
)
def test_tags_must_be_what_ses_accepts(tags: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        SESBackend(tags=tags)

    assert "'ses.tags'" in str(caught.value)


def test_endpoint_url_must_be_http() -> None:
    with pytest.raises(ConfigurationError, match="endpoint_url"):
        SESBackend(endpoint_url="localhost:4566")
