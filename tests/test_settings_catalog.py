"""scripts/settings-catalog and the catalog it wrote (components/data/rocketchat_settings.json).

The facts asserted on the committed catalog were read in Rocket.Chat's sources (docs/rocketchat-facts.md says where);
the parser is checked against a small registration file written for this test in the style of Rocket.Chat's API.
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.engine import PROJECT_DIR

SCRIPT = PROJECT_DIR / "scripts" / "settings-catalog"
CATALOG_PATH = PROJECT_DIR / "components" / "data" / "rocketchat_settings.json"
VERSIONS = ("7.7.1", "8.6.1")


@pytest.fixture(scope="module")
def catalog() -> dict:
    return json.loads(CATALOG_PATH.read_text(encoding="utf-8"))


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False
    )


# ------------------------------------------------------------------------------------------ the committed catalog


def test_the_catalog_is_well_formed(catalog: dict) -> None:
    assert catalog["schema"] == 1
    assert set(catalog["versions"]) >= set(VERSIONS)
    for label, entry in catalog["versions"].items():
        assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"]), label
        source = catalog["sources"][label]
        assert source["commit"] == entry["commit"] and source["repository"] == entry["repository"]
        assert [item["path"] for item in source["files"]] == entry["files_read"]
        assert all(re.fullmatch(r"[0-9a-f]{40}", item["blob"]) for item in source["files"])
        if entry.get("approximate"):
            assert entry["approximate_reason"].strip()
        assert entry["counts"]["settings"] == len(entry["settings"]) > 500
        assert entry["counts"]["secret"] == sum(item["secret"] for item in entry["settings"].values())
        for setting_id, item in {**entry["settings"], **entry["patterns"]}.items():
            assert isinstance(item["type"], str), setting_id
            assert isinstance(item["secret"], bool), setting_id
            assert item["source"] in entry["files_read"], setting_id
            assert item.get("enterprise", True) is True, setting_id
        for pattern, item in entry["patterns"].items():
            assert "<" in pattern and re.compile(item["regex"]), pattern


def test_the_committed_text_is_what_the_script_writes(catalog: dict, tmp_path: Path) -> None:
    """Deterministic layout: loading and re-rendering the catalog gives the same bytes (nothing hand-edited)."""
    copy = tmp_path / "catalog.json"
    copy.write_text(CATALOG_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    result = run_script("--catalog", str(copy), "show")
    assert result.returncode == 0, result.stderr
    for label in VERSIONS:
        assert label in result.stdout
    loaded = _script_module()
    assert loaded.render(catalog) == CATALOG_PATH.read_text(encoding="utf-8")


def _script_module():
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader("settings_catalog_script", str(SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module  # dataclasses look their module up while the class is built
    loader.exec_module(module)
    return module


@pytest.mark.parametrize("version", VERSIONS)
def test_file_upload_settings(catalog: dict, version: str) -> None:
    settings = catalog["versions"][version]["settings"]
    storage = settings["FileUpload_Storage_Type"]
    assert storage["type"] == "select"
    assert set(storage["values"]) == {"GridFS", "AmazonS3", "GoogleCloudStorage", "Webdav", "FileSystem"}
    assert storage["default"] == "GridFS"
    for key in ("FileUpload_S3_AWSAccessKeyId", "FileUpload_S3_AWSSecretAccessKey"):
        assert settings[key]["type"] == "password" and settings[key]["secret"] is True
    assert settings["FileUpload_S3_BucketURL"] == settings["FileUpload_S3_BucketURL"] | {
        "type": "string",
        "secret": True,
    }
    for key in ("FileUpload_S3_Bucket", "FileUpload_S3_Region", "FileUpload_S3_Acl", "FileUpload_FileSystemPath"):
        assert settings[key]["type"] == "string" and settings[key]["secret"] is False, key
    assert settings["FileUpload_S3_ForcePathStyle"]["type"] == "boolean"
    assert settings["FileUpload_S3_ForcePathStyle"]["default"] is False
    assert settings["FileUpload_S3_URLExpiryTimeSpan"]["type"] == "int"


def test_the_s3_signature_version_setting_is_gone_in_8(catalog: dict) -> None:
    assert catalog["versions"]["7.7.1"]["settings"]["FileUpload_S3_SignatureVersion"]["default"] == "v4"
    assert "FileUpload_S3_SignatureVersion" not in catalog["versions"]["8.6.1"]["settings"]


@pytest.mark.parametrize("version", VERSIONS)
def test_smtp_settings(catalog: dict, version: str) -> None:
    settings = catalog["versions"][version]["settings"]
    assert settings["SMTP_Host"]["type"] == "string" and settings["SMTP_Host"]["secret"] is False
    assert settings["SMTP_Port"]["type"] == "string"  # a string, not an int
    assert settings["SMTP_Password"]["type"] == "password" and settings["SMTP_Password"]["secret"] is True
    assert settings["SMTP_Username"]["type"] == "string" and settings["SMTP_Username"]["secret"] is True
    assert settings["SMTP_Protocol"]["values"] == ["smtp", "smtps"] and settings["SMTP_Protocol"]["default"] == "smtp"
    assert settings["SMTP_IgnoreTLS"] | {"type": "boolean", "default": True} == settings["SMTP_IgnoreTLS"]
    assert settings["SMTP_Pool"] | {"type": "boolean", "default": True} == settings["SMTP_Pool"]
    assert settings["From_Email"]["type"] == "string"
    assert {settings[key]["source"] for key in ("SMTP_Host", "From_Email")} == {"apps/meteor/server/settings/email.ts"}


@pytest.mark.parametrize("version", VERSIONS)
def test_setup_wizard_ldap_and_site_url(catalog: dict, version: str) -> None:
    settings = catalog["versions"][version]["settings"]
    wizard = settings["Show_Setup_Wizard"]
    assert wizard["type"] == "select" and wizard["values"] == ["pending", "in_progress", "completed"]
    assert wizard["default"] == "pending"
    assert settings["LDAP_Enable"] | {"type": "boolean", "default": False} == settings["LDAP_Enable"]
    assert settings["LDAP_Authentication_Password"]["secret"] is True
    assert settings["Site_Url"]["type"] == "string" and "default" not in settings["Site_Url"]  # computed from ROOT_URL
    assert settings["Cloud_Workspace_Client_Secret"]["secret"] is True


@pytest.mark.parametrize("version", VERSIONS)
def test_custom_oauth_settings_are_patterns(catalog: dict, version: str) -> None:
    patterns = catalog["versions"][version]["patterns"]
    enabled = patterns["Accounts_OAuth_Custom-<name>"]
    assert enabled["type"] == "boolean"
    assert re.fullmatch(enabled["regex"], "Accounts_OAuth_Custom-Keycloak")
    for field in ("url", "token_path", "identity_path", "authorize_path", "scope", "id", "secret", "login_style"):
        item = patterns[f"Accounts_OAuth_Custom-<name>-{field}"]
        assert re.fullmatch(item["regex"], f"Accounts_OAuth_Custom-Keycloak-{field}")
        assert item["source"] == "apps/meteor/server/lib/oauth/addOAuthService.ts"
    # the client secret is a plain string setting, NOT flagged secret by Rocket.Chat: callers must treat it as one
    assert (
        patterns["Accounts_OAuth_Custom-<name>-secret"] | {"type": "string", "secret": False}
        == patterns["Accounts_OAuth_Custom-<name>-secret"]
    )
    assert patterns["Accounts_OAuth_Custom-<name>-login_style"]["values"] == ["redirect", "popup", ""]


def test_enterprise_settings_only_where_the_tree_had_them(catalog: dict) -> None:
    full, core_only = catalog["versions"]["7.7.1"], catalog["versions"]["8.6.1"]
    assert full["settings"]["LDAP_Background_Sync"]["enterprise"] is True
    assert full["settings"]["LDAP_Background_Sync"]["source"] == "apps/meteor/ee/server/settings/ldap.ts"
    assert "LDAP_Background_Sync" not in core_only["settings"]
    assert any(item.startswith("apps/meteor/ee/") for item in core_only["missing"])


def test_release_dates(catalog: dict) -> None:
    releases = catalog["releases"]
    assert releases["source"]["repository"] == "endoflife-date/release-data"
    assert re.fullmatch(r"[0-9a-f]{40}", releases["source"]["commit"])
    minors = releases["minor_first_release"]["versions"]
    assert {"7.0", "7.6", "7.7", "8.0", "8.6", "8.7"} <= set(minors)
    assert minors["8.6"] == "2026-07-03" and releases["all"]["versions"]["8.6.1"] == "2026-07-10"
    assert releases["all"]["versions"]["7.6.2"] == "2025-05-30"
    for date in releases["all"]["versions"].values():
        datetime.date.fromisoformat(date)


# ------------------------------------------------------------------------------------------------- the parser

# Written for this test: the shapes Rocket.Chat's registration code uses (groups, sections, `with` presets, ids from
# template literals and from constants, select values, secrets, expressions as defaults), plus comments, a regular
# expression and a template with nested braces that a careless scanner would trip over.
FIXTURE = r"""
import { settingsRegistry } from '../../app/settings/server';

const widgetId = `Demo_Widget_${kind}`;
const plainId = 'Demo_Plain';
const WATCH = /^Demo_(a|b)\/x$/g; // not a setting
/* settingsRegistry.add('Commented_Out', 1, {}) */

export const createDemoSettings = () =>
	settingsRegistry.addGroup('Demo', async function () {
		await this.add('Demo_Enabled', true, { type: 'boolean', public: true });
		await this.add('Demo_Limit', -5, { type: 'int' });
		await this.add('Demo_Name', "it's", {});
		await this.add(widgetId, 'x', { type: 'string' });
		await this.add(plainId, 0.5, { type: 'int' });

		await this.section('Storage', async function () {
			await this.add('Demo_Backend', 'Disk', {
				type: 'select',
				values: [
					{ key: 'Disk', i18nLabel: 'Disk' },
					{ key: 'Cloud', i18nLabel: `Cloud ${'x'}` },
				],
			});
			await this.add('Demo_Token', '', { type: 'password' });
			await this.add('Demo_Url', computeDefault(), { type: 'string', secret: true });
		});

		await this.with({ enterprise: true, modules: ['demo'], invalidValue: false }, async function () {
			await this.add('Demo_Paid', false, { type: 'boolean', enableQuery: { _id: 'Demo_Enabled', value: true } });
		});
	});

export async function addProvider(name: string) {
	const label = `Provider ${name} {braces} ${`nested ${name}`}`;
	await settingsRegistry.add(`Demo_Provider-${name}-key`, '', { type: 'string', group: 'Demo', section: label });
	await settingsRegistry.add('Demo_Provider_' + name + '_on', false, { type: 'boolean', group: 'Demo' });
	await settingsRegistry.add(someId, 1);
}
"""

EXPECTED_SETTINGS = {
    "Demo_Backend": {
        "default": "Disk",
        "group": "Demo",
        "secret": False,
        "section": "Storage",
        "source": "apps/demo/server/settings.ts",
        "type": "select",
        "values": ["Disk", "Cloud"],
    },
    "Demo_Enabled": {
        "default": True,
        "group": "Demo",
        "secret": False,
        "source": "apps/demo/server/settings.ts",
        "type": "boolean",
    },
    "Demo_Limit": {
        "default": -5,
        "group": "Demo",
        "secret": False,
        "source": "apps/demo/server/settings.ts",
        "type": "int",
    },
    "Demo_Name": {
        "default": "it's",
        "group": "Demo",
        "secret": False,
        "source": "apps/demo/server/settings.ts",
        "type": "string",
    },
    "Demo_Paid": {
        "default": False,
        "enterprise": True,
        "group": "Demo",
        "secret": False,
        "source": "apps/demo/server/settings.ts",
        "type": "boolean",
    },
    "Demo_Token": {
        "default": "",
        "group": "Demo",
        "secret": True,
        "section": "Storage",
        "source": "apps/demo/server/settings.ts",
        "type": "password",
    },
    "Demo_Url": {
        "group": "Demo",
        "secret": True,
        "section": "Storage",
        "source": "apps/demo/server/settings.ts",
        "type": "string",
    },
    "Demo_Plain": {
        "default": 0.5,
        "group": "Demo",
        "secret": False,
        "source": "apps/demo/server/settings.ts",
        "type": "int",
    },
}

EXPECTED_PATTERNS = {
    "Demo_Widget_<kind>": {
        "default": "x",
        "group": "Demo",
        "regex": "^Demo_Widget_(.+)$",
        "secret": False,
        "source": "apps/demo/server/settings.ts",
        "type": "string",
    },
    "Demo_Provider-<name>-key": {
        "default": "",
        "group": "Demo",
        "regex": r"^Demo_Provider\-(.+)\-key$",
        "secret": False,
        "source": "apps/demo/server/settings.ts",
        "type": "string",
    },
    "Demo_Provider_<name>_on": {
        "default": False,
        "group": "Demo",
        "regex": "^Demo_Provider_(.+)_on$",
        "secret": False,
        "source": "apps/demo/server/settings.ts",
        "type": "boolean",
    },
}


def write_fixture(root: Path) -> Path:
    source = root / "src"
    (source / "apps/demo/server").mkdir(parents=True)
    (source / "apps/demo/server/settings.ts").write_text(FIXTURE, encoding="utf-8")
    # files the catalog must ignore: a client file, a test and a file without registrations
    (source / "apps/demo/client").mkdir()
    (source / "apps/demo/client/view.ts").write_text("settingsRegistry.addGroup('Nope', async function () {});\n")
    (source / "apps/demo/server/settings.spec.ts").write_text("settingsRegistry.add('Spec_Only', 1, {});\n")
    (source / "apps/demo/server/other.ts").write_text("export const x = 1;\n")
    return source


def build(source: Path, catalog: Path) -> subprocess.CompletedProcess[str]:
    return run_script(
        "--catalog",
        str(catalog),
        "build",
        "--source-dir",
        str(source),
        "--version",
        "1.2.3",
        "--repository",
        "example/demo",
        "--commit",
        "0123456789abcdef0123456789abcdef01234567",
        "--approximate",
        "hand-written fixture",
    )


def test_the_script_reproduces_the_fixture_catalog(tmp_path: Path) -> None:
    source, target = write_fixture(tmp_path), tmp_path / "out" / "catalog.json"
    first = build(source, target)
    assert first.returncode == 0, first.stderr
    written = target.read_bytes()
    entry = json.loads(written)["versions"]["1.2.3"]
    assert entry["settings"] == EXPECTED_SETTINGS
    assert entry["patterns"] == EXPECTED_PATTERNS
    assert entry["files_read"] == ["apps/demo/server/settings.ts"]
    assert entry["unresolved"] == [
        {
            "line": 38,
            "reason": "the id is computed at run time from something this parser cannot name",
            "source": "apps/demo/server/settings.ts",
        }
    ]
    assert entry["counts"] == {
        "enterprise": 1,
        "patterns": 3,
        "secret": 2,
        "secret_patterns": 0,
        "settings": 8,
        "unresolved": 1,
    }
    assert entry["approximate"] is True and entry["approximate_reason"] == "hand-written fixture"
    files = json.loads(written)["sources"]["1.2.3"]["files"]
    blob = subprocess.run(
        ["git", "hash-object", str(source / "apps/demo/server/settings.ts")], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert files == [{"blob": blob, "path": "apps/demo/server/settings.ts"}]

    # idempotent: the same input leaves the file byte-for-byte unchanged, and says so
    second = build(source, target)
    assert second.returncode == 0 and "unchanged" in second.stderr
    assert target.read_bytes() == written


def test_a_version_is_replaced_and_the_others_kept(tmp_path: Path) -> None:
    source, target = write_fixture(tmp_path), tmp_path / "catalog.json"
    assert build(source, target).returncode == 0
    other = run_script(
        "--catalog",
        str(target),
        "build",
        "--source-dir",
        str(source),
        "--version",
        "1.10.0",
        "--repository",
        "example/demo",
        "--commit",
        "89abcdef0123456789abcdef0123456789abcdef",
    )
    assert other.returncode == 0, other.stderr
    catalog = json.loads(target.read_text())
    assert list(catalog["versions"]) == ["1.2.3", "1.10.0"]  # ordered as versions, not as strings
    assert "approximate" not in catalog["versions"]["1.10.0"]
    assert catalog["versions"]["1.2.3"]["settings"] == catalog["versions"]["1.10.0"]["settings"]


def test_bad_input_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    target = tmp_path / "catalog.json"
    common = ["--version", "1.0.0", "--repository", "example/demo"]
    result = run_script("--catalog", str(target), "build", "--source-dir", str(empty), *common, "--commit", "0" * 40)
    assert result.returncode != 0 and "registers settings" in result.stderr
    source = write_fixture(tmp_path)
    result = run_script("--catalog", str(target), "build", "--source-dir", str(source), *common, "--commit", "abc")
    assert result.returncode != 0 and "40-hex" in result.stderr
    assert not target.exists()
