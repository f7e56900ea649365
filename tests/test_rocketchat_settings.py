"""stack_config.rocketchat_settings: what a user meets when giving Rocket.Chat settings as code.

Examples are real ids read from the catalog (components/data/rocketchat_settings.json); the exact messages are
asserted for hand-picked ids whose entries were checked there: SMTP_Host (string), SMTP_Port (string, not int),
SMTP_Password (password, secret), FileUpload_Storage_Type (select), LDAP_Enable and
Accounts_TwoFactorAuthentication_Enabled (boolean), FileUpload_MaxFileSize (int), FileUpload_S3_SignatureVersion
(7.7.1 only), SSRF_Allowlist (8.6.1 only), LDAP_Background_Sync (enterprise, 7.7.1's `ee/` only).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stack_config.rocketchat_settings import (
    CATALOG_FILE,
    CREDENTIAL_SETTINGS,
    K8S_ENV_NAME,
    SETTING_ENV_PREFIX,
    STRING_TYPES,
    catalog_for,
    catalogs,
    env_value,
    rocketchat_value,
    setting_env_name,
    setting_problems,
)

RAW = json.loads(CATALOG_FILE.read_text())["versions"]
OLD, NEW = "7.7.1", "8.6.1"
PROBE = "probe-9f3e-do-not-show"


def problems(version: str, settings: dict[str, Any], secrets: dict[str, Any] | None = None) -> list[str]:
    return setting_problems(version, settings, secrets or {})[0]


def warnings(version: str, settings: dict[str, Any], secrets: dict[str, Any] | None = None) -> list[str]:
    return setting_problems(version, settings, secrets or {})[1]


def test_the_hand_picked_ids_are_what_the_catalog_says() -> None:
    """Guards the exact messages below: if a regenerated catalog changes these entries, say so here first."""
    for version in (OLD, NEW):
        entries = RAW[version]["settings"]
        assert entries["SMTP_Host"]["type"] == "string" and not entries["SMTP_Host"]["secret"]
        assert entries["SMTP_Port"]["type"] == "string"
        assert entries["SMTP_Password"]["type"] == "password" and entries["SMTP_Password"]["secret"]
        assert {"AmazonS3", "FileSystem", "GridFS"} <= set(entries["FileUpload_Storage_Type"]["values"])
        assert entries["LDAP_Enable"]["type"] == "boolean"
        assert entries["FileUpload_MaxFileSize"]["type"] == "int"
    assert "FileUpload_S3_SignatureVersion" in RAW[OLD]["settings"]
    assert "FileUpload_S3_SignatureVersion" not in RAW[NEW]["settings"]
    assert "SSRF_Allowlist" in RAW[NEW]["settings"] and "SSRF_Allowlist" not in RAW[OLD]["settings"]
    assert RAW[OLD]["settings"]["LDAP_Background_Sync"]["enterprise"]
    assert "LDAP_Background_Sync" not in RAW[NEW]["settings"]


# ------------------------------------------------------------------------------------------------ catalog_for


@pytest.mark.parametrize(
    ("version", "label"),
    [("7.6.2", OLD), ("7.7.1", OLD), ("7.7.4", OLD), ("8.0.0", NEW), ("8.6.1", NEW), ("8.7.0", NEW)],
)
def test_each_version_is_checked_against_the_catalog_of_its_major(version: str, label: str) -> None:
    assert catalog_for(version).version == label


def test_a_major_without_a_catalog_gets_the_nearest() -> None:
    assert catalog_for("6.13.0").version == OLD
    assert catalog_for("9.0.0").version == NEW


def test_the_catalog_says_it_is_approximate_and_what_it_lacks() -> None:
    for catalog in catalogs():
        assert catalog.approximate and catalog.approximate_reason == RAW[catalog.version]["approximate_reason"]
    assert catalog_for("8.7.0").lacks_enterprise and catalog_for("8.7.0").missing
    assert not catalog_for("7.7.4").lacks_enterprise


def test_not_an_exact_version_is_refused() -> None:
    with pytest.raises(ValueError):
        catalog_for("8.x")


# ------------------------------------------------------------------------------------------------ what passes


def test_valid_settings_of_each_kind_pass_silently() -> None:
    settings = {
        "SMTP_Host": "smtp.example.com",
        "SMTP_Port": "587",  # a string setting in Rocket.Chat
        "LDAP_Enable": True,
        "FileUpload_MaxFileSize": 104857600,
        "FileUpload_Storage_Type": "AmazonS3",
        "Log_Level": 2,  # a select whose keys are "0", "1", "2": `--path` stores 2 as a number
        "Accounts_OAuth_Custom-Gitlab-url": "https://gitlab.example.com",
    }
    secrets = {"SMTP_Password": PROBE, "Accounts_OAuth_Custom-Gitlab-secret": PROBE}
    for version in ("7.7.4", "8.6.1"):
        assert setting_problems(version, settings, secrets) == ([], [])


@pytest.mark.parametrize("storage", ["AmazonS3", "FileSystem", "GridFS"])
def test_each_upload_store_is_a_select_key(storage: str) -> None:
    assert problems("8.6.1", {"FileUpload_Storage_Type": storage}) == []


@pytest.mark.parametrize("version", [OLD, NEW])
def test_rocket_chats_own_defaults_pass_for_every_setting_the_environment_can_set(version: str) -> None:
    """No registered setting is refused its own default (a select's "nothing chosen" included)."""
    catalog = catalog_for(version)
    refused = {
        setting_id: problems(version, {setting_id: setting.default})
        for setting_id, setting in catalog.settings.items()
        if setting.default is not None
        and not setting.holds_secret
        and setting.type in STRING_TYPES | {"boolean", "int", "select", "multiSelect"}
    }
    assert {setting_id: found for setting_id, found in refused.items() if found} == {}
    assert len(refused) > 600


# ------------------------------------------------------------------------------------------------ unknown ids


def test_a_misspelt_id_is_refused_with_the_id_meant() -> None:
    assert problems("7.7.4", {"SMTP_Hots": "smtp.example.com"}) == [
        (
            "rocketchat:settings.SMTP_Hots: Rocket.Chat 7.7.1 (the catalog for 7.7.4) registers no setting of that id, "
            "so it would ignore it (did you mean 'rocketchat:settings.SMTP_Host' or 'rocketchat:settings.SMTP_Port'?)"
        )
    ]


def test_on_8x_an_unknown_id_also_says_the_catalog_lacks_newer_enterprise_settings() -> None:
    (found,) = problems("8.6.1", {"LDAP_Enabel": True})
    assert found.startswith(
        "rocketchat:settings.LDAP_Enabel: Rocket.Chat 8.6.1 registers no setting of that id, so it would ignore it "
        "(did you mean 'rocketchat:settings.LDAP_Enable'"
    )
    assert found.endswith("so it misses enterprise settings added after 7.7.1")


def test_a_misspelt_secret_id_is_refused_under_secret_settings() -> None:
    (found,) = problems("8.6.1", {}, {"SMTP_Pasword": PROBE})
    assert found.startswith("rocketchat:secretSettings.SMTP_Pasword: Rocket.Chat 8.6.1 registers no setting")
    assert "did you mean 'rocketchat:secretSettings.SMTP_Password'" in found


# ------------------------------------------------------------------------------------------------ types


def test_a_boolean_setting_given_a_word_is_refused() -> None:
    assert problems("8.6.1", {"Accounts_TwoFactorAuthentication_Enabled": "maybe", "LDAP_Enable": 1}) == [
        (
            'rocketchat:settings.Accounts_TwoFactorAuthentication_Enabled: boolean setting, got "maybe" (a string): '
            "give true or false"
        ),
        "rocketchat:settings.LDAP_Enable: boolean setting, got 1 (a whole number): give true or false",
    ]


def test_an_int_setting_needs_a_whole_number_not_text_or_a_boolean() -> None:
    assert problems("8.6.1", {"FileUpload_MaxFileSize": "100MB"}) == [
        (
            'rocketchat:settings.FileUpload_MaxFileSize: int setting, got "100MB" (a string): '
            "give a whole number (without quotes)"
        )
    ]
    assert problems("8.6.1", {"FileUpload_MaxFileSize": True}) == [
        (
            "rocketchat:settings.FileUpload_MaxFileSize: int setting, got true (a boolean): "
            "give a whole number (without quotes)"
        )
    ]
    assert "larger than Rocket.Chat holds exactly" in problems("8.6.1", {"FileUpload_MaxFileSize": 2**60})[0]


def test_a_string_setting_given_a_number_is_told_how_to_store_text() -> None:
    assert problems("8.6.1", {"SMTP_Port": 587}) == [
        (
            "rocketchat:settings.SMTP_Port: string setting, got 587 (a whole number): give text: "
            "`pulumi config set --path 'rocketchat:settings.SMTP_Port' --type string '587'`"
        )
    ]


@pytest.mark.parametrize("value", [True, "false", "TRUE"])
def test_a_string_setting_cannot_take_true_or_false(value: Any) -> None:
    """Rocket.Chat turns the environment text true/false into a boolean whatever the setting's type."""
    (found,) = problems("8.6.1", {"SMTP_Host": value})
    assert found.startswith(f"rocketchat:settings.SMTP_Host: string setting, got {json.dumps(value)}")
    assert "into a boolean whatever the setting's type" in found


def test_a_select_value_must_be_one_of_its_keys_all_named() -> None:
    assert problems("8.6.1", {"FileUpload_Storage_Type": "S3"}) == [
        (
            'rocketchat:settings.FileUpload_Storage_Type: select setting, got "S3" (a string): give one of "GridFS", '
            '"AmazonS3", "GoogleCloudStorage", "Webdav", "FileSystem"'
        )
    ]
    assert problems("8.6.1", {"FileUpload_Storage_Type": "gridfs"}) == [
        (
            'rocketchat:settings.FileUpload_Storage_Type: select setting, got "gridfs" (a string) (did you mean '
            '"GridFS"?): give one of "GridFS", "AmazonS3", "GoogleCloudStorage", "Webdav", "FileSystem"'
        )
    ]


def test_a_setting_the_environment_cannot_set_is_refused() -> None:
    timespan = next(i for i, s in RAW[NEW]["settings"].items() if s["type"] == "timespan")
    (found,) = problems("8.6.1", {timespan: 86400})
    assert found.startswith(f"rocketchat:settings.{timespan}: timespan setting: Rocket.Chat 8.6.1 keeps")
    action = next(i for i, s in RAW[NEW]["settings"].items() if s["type"] == "action")
    assert problems("8.6.1", {action: "x"}) == [
        (
            f"rocketchat:settings.{action}: action setting: not a value an environment variable can set; "
            "set it in the admin UI"
        )
    ]


# ------------------------------------------------------------------------------------------------ secrets


def test_a_secret_in_plain_settings_is_refused_with_the_commands_that_move_it() -> None:
    assert problems("8.6.1", {"SMTP_Password": PROBE}) == [
        (
            "rocketchat:settings.SMTP_Password: a secret setting (password), given in plain text (value not shown): "
            "store it encrypted with `pulumi config set --secret --path 'rocketchat:secretSettings.SMTP_Password' "
            "'...'` and remove the plain one with `pulumi config rm --path 'rocketchat:settings.SMTP_Password'`"
        )
    ]


def test_every_setting_the_catalog_marks_secret_is_refused_in_plain_text() -> None:
    for version in (OLD, NEW):
        secret = [i for i, s in RAW[version]["settings"].items() if s["secret"] or s["type"] == "password"]
        found = problems(version, dict.fromkeys(secret, PROBE))
        assert len(found) == len(secret) and all("given in plain text (value not shown)" in p for p in found)


def test_a_custom_oauth_client_secret_is_a_secret_though_rocket_chat_says_not() -> None:
    pattern = RAW[NEW]["patterns"]["Accounts_OAuth_Custom-<name>-secret"]
    assert pattern["secret"] is False and pattern["type"] == "string"  # what the facts doc warns about
    (found,) = problems("8.6.1", {"Accounts_OAuth_Custom-gitlab-secret": PROBE})
    assert found.startswith(
        "rocketchat:settings.Accounts_OAuth_Custom-gitlab-secret: a credential, though Rocket.Chat registers it as "
        "a plain setting, given in plain text (value not shown)"
    )
    assert "`pulumi config set --secret --path 'rocketchat:secretSettings.Accounts_OAuth_Custom-gitlab-secret'" in found


def test_each_credential_id_is_registered_and_not_already_secret() -> None:
    """The credential set only adds what the catalog cannot say: every entry is a real id (or pattern) that
    Rocket.Chat registers without marking it secret."""
    for credential in CREDENTIAL_SETTINGS:
        entries = [RAW[v]["settings"].get(credential) or RAW[v]["patterns"].get(credential) for v in (OLD, NEW)]
        assert any(entries), credential
        assert not any(e and (e["secret"] or e["type"] == "password") for e in entries), credential


def test_every_credential_id_passes_as_a_secret_setting() -> None:
    ids = {c.replace("<name>", "Gitlab") for c in CREDENTIAL_SETTINGS}
    assert problems("7.7.4", {}, dict.fromkeys(ids, PROBE)) == []
    assert problems("8.6.1", {}, dict.fromkeys(ids - {"Accounts_OAuth_Tokenpass_secret"}, PROBE)) == []


def test_an_empty_secret_is_refused() -> None:
    assert problems("8.6.1", {}, {"SMTP_Password": ""}) == [
        (
            "rocketchat:secretSettings.SMTP_Password: empty or not text (value not shown): there is nothing to force; "
            "give the secret as text"
        )
    ]


def test_a_secret_value_of_the_wrong_kind_is_refused_without_showing_it() -> None:
    found = problems("8.6.1", {}, {"LDAP_Enable": PROBE, "FileUpload_Storage_Type": PROBE, "SMTP_Host": "False"})
    assert found == [
        (
            "rocketchat:secretSettings.FileUpload_Storage_Type: select setting: its value (not shown) is none of "
            '"GridFS", "AmazonS3", "GoogleCloudStorage", "Webdav", "FileSystem"'
        ),
        "rocketchat:secretSettings.LDAP_Enable: boolean setting: its value (not shown) is neither true nor false",
        (
            "rocketchat:secretSettings.SMTP_Host: string setting: its value (not shown) is a text that Rocket.Chat "
            "turns into a boolean (true or false, any case) whatever the setting's type"
        ),
    ]


def test_the_same_id_in_both_maps_is_refused() -> None:
    found = problems("8.6.1", {"SMTP_Host": "smtp.example.com"}, {"SMTP_Host": PROBE})
    assert found == [
        (
            "rocketchat:secretSettings.SMTP_Host: also in rocketchat:settings: a setting belongs in one of the two; "
            "remove one with `pulumi config rm --path 'rocketchat:settings.SMTP_Host'` or "
            "`pulumi config rm --path 'rocketchat:secretSettings.SMTP_Host'`"
        )
    ]


def test_no_secret_value_ever_appears_in_a_message() -> None:
    """Every kind of problem and warning, with the probe as every secret value (and as the plain value of settings
    that hold secrets): it shows up nowhere."""
    secrets = {
        "SMTP_Password": PROBE,
        "SMTP_Pasword": PROBE,  # unknown
        "FileUpload_S3_SignatureVersion": PROBE,  # other version only
        "LDAP_Background_Sync": PROBE,  # enterprise, not checked on 8.x
        "LDAP_Enable": PROBE,  # wrong kind
        "FileUpload_MaxFileSize": PROBE,
        "FileUpload_Storage_Type": PROBE,
        "SMTP_Host": PROBE,  # also plain
        "Accounts_OAuth_Custom-gitlab-secret": PROBE,  # name spelt otherwise than Rocket.Chat registers it
    }
    settings = {
        "SMTP_Host": "smtp.example.com",
        "SMTP_Username": PROBE,  # secret in plain text
        "Accounts_OAuth_Custom-Gitlab-secret": PROBE,  # a credential in plain text
        "VoIP_TeamCollab_FreeSwitch_Password": PROBE,  # enterprise and secret, on 8.x
    }
    for version in ("7.6.2", "7.7.4", "8.0.0", "8.6.1", "8.7.0"):
        found, warned = setting_problems(version, settings, secrets)
        assert found and all(PROBE not in line for line in found + warned)


# ------------------------------------------------------------------------------------------------ versions


def test_an_id_of_7x_only_is_refused_on_8x_naming_both_versions() -> None:
    assert problems("7.7.4", {"FileUpload_S3_SignatureVersion": "v4"}) == []
    assert problems("8.7.0", {"FileUpload_S3_SignatureVersion": "v4"}) == [
        (
            "rocketchat:settings.FileUpload_S3_SignatureVersion: registered in Rocket.Chat 7.7.1, not in 8.6.1 "
            "(the catalog for 8.7.0): this version would ignore it"
        )
    ]


def test_an_id_of_8x_only_is_refused_on_7x() -> None:
    assert problems("8.6.1", {"SSRF_Allowlist": "10.0.0.0/8"}) == []
    assert problems("7.6.2", {"SSRF_Allowlist": "10.0.0.0/8"}) == [
        (
            "rocketchat:settings.SSRF_Allowlist: registered in Rocket.Chat 8.6.1, not in 7.7.1 "
            "(the catalog for 7.6.2): this version would ignore it"
        )
    ]


def test_an_enterprise_id_the_8x_catalog_cannot_know_is_warned_not_refused() -> None:
    assert setting_problems("8.6.1", {"LDAP_Background_Sync": True}, {}) == (
        [],
        [
            (
                "rocketchat:settings.LDAP_Background_Sync: not checked: an enterprise setting in Rocket.Chat "
                "7.7.1, and the 8.6.1 catalog was read without Rocket.Chat's enterprise code (apps/meteor/ee/, "
                "ee/), so it can neither confirm nor refuse the id"
            )
        ],
    )
    assert setting_problems("7.7.4", {"LDAP_Background_Sync": True}, {}) == ([], [])


def test_every_enterprise_id_of_7x_missing_from_8x_is_warned_on_8x() -> None:
    enterprise = sorted(
        i for i, s in RAW[OLD]["settings"].items() if s.get("enterprise") and i not in RAW[NEW]["settings"]
    )
    plain = {i: True for i in enterprise if not RAW[OLD]["settings"][i]["secret"]}
    found, warned = setting_problems("8.7.0", plain, {})
    assert found == [] and len(warned) == len(plain) > 50


def test_an_enterprise_secret_on_8x_is_still_refused_in_plain_text() -> None:
    entry = RAW[OLD]["settings"]["VoIP_TeamCollab_FreeSwitch_Password"]
    assert entry["enterprise"] and entry["type"] == "password"
    found, warned = setting_problems("8.6.1", {"VoIP_TeamCollab_FreeSwitch_Password": PROBE}, {})
    assert len(warned) == 1 and len(found) == 1 and "a secret setting (password)" in found[0]


def test_a_non_enterprise_id_missing_from_8x_is_refused_not_warned() -> None:
    """Only enterprise ids get the benefit of the doubt: 8.6.1's FOSS tree is complete."""
    found, warned = setting_problems("8.6.1", {"FileUpload_S3_SignatureVersion": "v4"}, {})
    assert found and not warned


# ------------------------------------------------------------------------------------------------ patterns


def test_a_custom_oauth_providers_fields_are_known_through_their_pattern() -> None:
    assert problems("8.6.1", {"Accounts_OAuth_Custom-gitlab-url": "https://gitlab.example.com"}) == []
    assert problems("8.6.1", {"Accounts_OAuth_Custom-Gitlab-token_sent_via": "nowhere"}) == [
        (
            "rocketchat:settings.Accounts_OAuth_Custom-Gitlab-token_sent_via: select setting, "
            'got "nowhere" (a string): give one of "header", "payload"'
        )
    ]


def test_a_provider_name_rocket_chat_would_rewrite_is_warned() -> None:
    """addOAuthService.ts lower-cases a provider's name and capitalises it: `gitlab` registers `...-Gitlab-url`."""
    assert warnings("8.6.1", {"Accounts_OAuth_Custom-gitlab-url": "https://gitlab.example.com"}) == [
        (
            "rocketchat:settings.Accounts_OAuth_Custom-gitlab-url: Rocket.Chat registers a custom OAuth provider "
            "named 'gitlab' as Accounts_OAuth_Custom-Gitlab-url (it lower-cases the name and capitalises its first "
            "letter), so a variable for this id would never be read"
        )
    ]
    assert warnings("8.6.1", {"Accounts_OAuth_Custom-Gitlab-url": "https://gitlab.example.com"}) == []


def test_a_misspelt_field_of_a_custom_provider_is_refused_with_the_field_meant() -> None:
    (found,) = problems("7.7.4", {"Accounts_OAuth_Custom-Gitlab-urll": "https://gitlab.example.com"})
    assert found.startswith(
        "rocketchat:settings.Accounts_OAuth_Custom-Gitlab-urll: Rocket.Chat 7.7.1 (the catalog for 7.7.4) registers "
        "no setting of that id, so it would ignore it (did you mean "
        "'rocketchat:settings.Accounts_OAuth_Custom-Gitlab-url'"
    )


def test_the_custom_oauth_secret_is_refused_in_plain_and_accepted_as_a_secret() -> None:
    assert problems("8.6.1", {}, {"Accounts_OAuth_Custom-Gitlab-secret": PROBE}) == []
    assert len(problems("8.6.1", {"Accounts_OAuth_Custom-Gitlab-secret": PROBE})) == 1


# ------------------------------------------------------------------------------------------------ environment


ROUND_TRIPS = [
    ("boolean", True),
    ("boolean", False),
    ("int", 0),
    ("int", -5),
    ("int", 104857600),
    ("string", "smtp.example.com"),
    ("string", ""),
    ("string", "a b\n c"),
    ("password", "s3cr=t;"),
    ("code", '{"a": 1}'),
    ("select", "AmazonS3"),
    ("multiSelect", ["uj", "ul"]),
    ("multiSelect", []),
]


@pytest.mark.parametrize(("setting_type", "value"), ROUND_TRIPS)
def test_env_value_gives_back_the_value_through_rocket_chats_conversion(setting_type: str, value: Any) -> None:
    assert rocketchat_value(setting_type, env_value(setting_type, value)) == value


def test_env_values_are_the_plain_texts_a_reader_expects() -> None:
    assert env_value("boolean", True) == "true"
    assert env_value("int", 50) == "50"
    assert env_value("select", 2) == "2"  # a select's keys are text
    assert env_value("multiSelect", ["uj", "ul"]) == '["uj","ul"]'


@pytest.mark.parametrize(
    ("setting_type", "value"),
    [("string", "true"), ("string", "FALSE"), ("boolean", "true"), ("int", True), ("int", 1.5), ("action", "x")],
)
def test_env_value_refuses_what_no_text_can_give(setting_type: str, value: Any) -> None:
    with pytest.raises(ValueError):
        env_value(setting_type, value)


def test_rocket_chats_conversion_is_modelled_as_its_source_says() -> None:
    """convertValue.ts: true/false for any type; parseInt for int (a leading number, hex with 0x, else NaN)."""
    assert rocketchat_value("string", "True") is True
    assert rocketchat_value("int", "12px") == 12
    assert rocketchat_value("int", "0x10") == 16
    assert rocketchat_value("int", "abc") is None
    assert rocketchat_value("int", " -7") == -7


def test_every_registered_id_makes_a_valid_kubernetes_env_name() -> None:
    for version in (OLD, NEW):
        for setting_id in RAW[version]["settings"]:
            assert K8S_ENV_NAME.fullmatch(setting_env_name(setting_id)), setting_id
    assert setting_env_name("Accounts_OAuth_Custom-Gitlab-secret") == (
        f"{SETTING_ENV_PREFIX}Accounts_OAuth_Custom-Gitlab-secret"
    )
    assert setting_env_name("Search.Provider") == "OVERWRITE_SETTING_Search.Provider"
    with pytest.raises(ValueError):
        setting_env_name("Site Name")


def test_an_id_with_a_dot_is_named_as_pulumi_spells_its_path() -> None:
    (found,) = problems("8.6.1", {"Search.Provider": 3.5})
    assert found.startswith('rocketchat:settings["Search.Provider"]: select setting, got 3.5')
