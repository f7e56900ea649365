"""Rocket.Chat settings checked against Rocket.Chat's own registrations (components/data/rocketchat_settings.json)."""

from __future__ import annotations

import json

import pytest

from stack_config import ConfigError
from stack_config.setting_rules import CATALOG_FILE, catalog_for, catalogs, setting_problems
from tools.engine import Secret, run_program

PROBE = "probe-value-9f3e"


def test_the_catalog_says_where_each_version_comes_from() -> None:
    data = json.loads(CATALOG_FILE.read_text())
    assert [c.version for c in catalogs()] == ["7.7.1", "8.6.1"]
    for label, entry in data["versions"].items():
        assert entry["repository"] and len(entry["commit"]) == 40, label
        assert entry["approximate"] and entry["approximate_reason"], label  # said, not hidden
        assert len(entry["settings"]) > 800, label


@pytest.mark.parametrize(
    ("version", "catalog"), [("7.6.2", "7.7.1"), ("7.7.4", "7.7.1"), ("8.0.0", "8.6.1"), ("8.7.0", "8.6.1")]
)
def test_each_version_is_checked_against_its_majors_catalog(version: str, catalog: str) -> None:
    assert catalog_for(version).version == catalog


def test_valid_settings_of_each_type_pass() -> None:
    settings = {
        "Site_Name": "Team chat",  # string
        "LDAP_Enable": True,  # boolean
        "API_Default_Count": 50,  # int
        "FileUpload_Storage_Type": "AmazonS3",  # select
        "Accounts_OAuth_Custom-gitlab-url": "https://gitlab.example.com",  # a pattern: one per custom provider
    }
    assert setting_problems("8.6.1", settings, ["SMTP_Password", "Accounts_OAuth_Custom-gitlab-secret"]) == ([], [])


def test_a_misspelt_id_is_refused_with_a_guess() -> None:
    (problem,), _ = setting_problems("8.6.1", {"Site_Nme": "x"}, [])
    assert problem == (
        "rocketchat:settings.Site_Nme: Rocket.Chat 8.6.1 registers no setting of that id, and would silently ignore "
        "it (did you mean 'Site_Name'?)"
    )


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("LDAP_Enable", "maybe", 'boolean setting, got "maybe": give true or false'),
        ("API_Default_Count", "ten", 'int setting, got "ten": give a whole number'),
        ("API_Default_Count", True, "int setting, got true"),
        ("Site_Name", 3, "string setting, got 3: give text"),
        (
            "FileUpload_Storage_Type",
            "S3",
            'select setting, got "S3": give one of GridFS, AmazonS3, GoogleCloudStorage, Webdav, FileSystem',
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_naming_the_type(setting: str, value: object, says: str) -> None:
    (problem,), _ = setting_problems("8.6.1", {setting: value}, [])
    assert problem.startswith(f"rocketchat:settings.{setting}: {says}")


@pytest.mark.parametrize(
    "setting", ["SMTP_Password", "FileUpload_S3_AWSSecretAccessKey", "Accounts_OAuth_Custom-gitlab-secret"]
)
def test_a_secret_setting_in_plain_settings_is_refused_with_the_commands(setting: str) -> None:
    (problem,), _ = setting_problems("8.6.1", {setting: PROBE}, [])
    assert problem == (
        f"rocketchat:settings.{setting}: a secret setting (value not shown): store it encrypted with "
        f"`pulumi config set --secret --path 'rocketchat:secretSettings.{setting}' '...'` and remove it from here "
        f"with `pulumi config rm --path 'rocketchat:settings.{setting}'`"
    )


def test_a_setting_of_one_version_is_refused_for_the_other() -> None:
    (problem,), _ = setting_problems("8.6.1", {"API_Use_REST_For_DDP_Calls": True}, [])
    assert problem == (
        "rocketchat:settings.API_Use_REST_For_DDP_Calls: registered in Rocket.Chat 7.7.1, not in 8.6.1 (the catalog "
        "for 8.6.1): this version would ignore it"
    )
    (problem,), _ = setting_problems("7.6.2", {"API_EmbedTimeout": 10}, [])
    assert problem.startswith("rocketchat:settings.API_EmbedTimeout: registered in Rocket.Chat 8.6.1, not in 7.7.1")


def test_an_enterprise_setting_8x_cannot_check_is_warned_not_refused() -> None:
    problems, (warning,) = setting_problems("8.6.1", {"Canned_Responses_Enable": True}, [])
    assert problems == []
    assert warning == (
        "rocketchat:settings.Canned_Responses_Enable: not checked: an Enterprise setting in Rocket.Chat 7.7.1, and "
        "the catalog of 8.6.1 has no Enterprise settings"
    )


def test_secret_settings_are_checked_by_id_and_their_values_never_shown() -> None:
    with pytest.raises(ConfigError) as error:
        run_program(
            "dev", {"rocketchat:secretSettings": Secret({"SMTP_Pasword": PROBE, "LDAP_Authentication_Password": ""})}
        )
    text = str(error.value)
    assert PROBE not in text
    assert "rocketchat:secretSettings.SMTP_Pasword: Rocket.Chat 8.6.1 registers no setting of that id" in text
    assert "rocketchat:secretSettings.LDAP_Authentication_Password: empty" in text


def test_one_id_in_both_maps_is_refused() -> None:
    problems, _ = setting_problems("8.6.1", {"Site_Name": "x"}, ["Site_Name"])
    assert "rocketchat:secretSettings.Site_Name: also in rocketchat:settings; keep one" in problems


def test_the_program_refuses_a_bad_setting_before_anything_is_registered() -> None:
    from tools.engine import Recording

    recording = Recording()
    with pytest.raises(ConfigError) as error:
        run_program("dev", {"rocketchat:settings": {"LDAP_Enable": "yes"}}, recording=recording)
    assert recording.resources == []
    assert error.value.problems == ['rocketchat:settings.LDAP_Enable: boolean setting, got "yes": give true or false']
