"""From a stack's config to the args of RocketChatStack: validated once, completely, before any resource exists.

`load_settings` validates every `rocketchat:*` key with the schema, applies the rules that span keys and the ones
the stack's last update imposes, and raises one ConfigError naming every problem. Otherwise it returns the stack's
`RocketChatStackArgs` and the warnings worth printing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
from pydantic import ValidationError

from components import support_window
from components.controllers import CONTROLLERS, controller_for
from components.inventory import stack_objects
from components.ownership import stack_owner
from components.planning import BelowSizing, Unlicensed, WorkloadPlan, plan_workloads
from components.stack import RocketChatStackArgs, replica_counts, sizing, stack_instance, stack_url
from components.versions import Version
from stack_config.deployed import Deployed, read_deployed, read_own_objects
from stack_config.diagnostics import ConfigError, _describe, _validate_without, stack_file
from stack_config.objects import annotation_overrides, object_problems
from stack_config.ownership import check_ownership
from stack_config.reading import read_stack_config
from stack_config.rocketchat_settings import setting_problems
from stack_config.rules import (
    EXAMPLE_LICENSE,
    cross_key_problems,
    data_problems,
    deployed_problems,
    ignored_settings,
    provider_problems,
    revealed,
    set_secret_command,
)
from stack_config.schema import StackConfig


@dataclass(frozen=True)
class Settings:
    """A validated stack config: the components' args, and what the program warns about."""

    config: StackConfig
    args: RocketChatStackArgs
    warnings: tuple[str, ...] = field(default=())

    @property
    def mode(self) -> str:
        return self.args["mode"]

    @property
    def namespace(self) -> str:
        return self.config.namespace

    @property
    def instance(self) -> str:
        return stack_instance(self.args)

    @property
    def url(self) -> str:
        return stack_url(self.args)

    @property
    def version(self) -> Version:
        return Version.parse(self.args["version"])

    @property
    def workloads(self) -> tuple[WorkloadPlan, ...]:
        """The monolith first, then every microservice the stack runs."""
        return plan_workloads(sizing(self.args))[0]

    def plan(self, key: str) -> WorkloadPlan | None:
        return next((p for p in self.workloads if p.workload.key == key), None)

    @property
    def replicas(self) -> dict[str, int | str]:
        return replica_counts(self.args)


def setting_env_value(value: bool | int | str) -> str:
    """A setting's value as the environment gives it to Rocket.Chat, which converts `true`/`false` to booleans and
    parses an int setting's digits (docs/rocketchat-facts.md)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def stack_args(config: StackConfig) -> RocketChatStackArgs:
    """The components' args: the schema's field names are theirs. The secrets go in as they are: RocketChatStack keeps
    them secret (in its Secrets, and as Pulumi secrets wherever they flow)."""
    args: Any = config.model_dump(
        exclude_none=True,
        exclude={
            "mongo_url": True,
            "license": True,
            "secret_settings": True,
            "admin_password": True,
            "smtp_password": True,
            "settings": True,
            "mongodb": {"allow_data_loss"},
        },
    )
    if config.settings:
        args["settings"] = {key: setting_env_value(value) for key, value in config.settings.items()}
    if config.secret_settings:
        args["secret_settings"] = {key: value.get_secret_value() for key, value in config.secret_settings.items()}
    for name in ("admin_password", "smtp_password"):
        if (value := getattr(config, name)) is not None:
            args[name] = value.get_secret_value()
    if not args.get("uploads"):
        args.pop("uploads", None)
    if config.mongo_url is not None:
        args["mongo_url"] = config.mongo_url.get_secret_value()
    if config.license is not None:
        args["license"] = config.license.get_secret_value()
    return args


def load_settings(
    stack: str,
    raw: Mapping[str, Any],
    secret_keys: Iterable[str] = (),
    provider_config: Mapping[str, Any] = {},
    deployed: Deployed | None = None,
    owner: str | None = None,
) -> Settings:
    """Validate the stack's `rocketchat:` keys (and the one provider setting the program relies on) and derive the
    settings, or raise ConfigError naming every problem. `deployed` is what the stack's last update left running:
    changes that would collide with it, or drop its data, are refused too. `owner` is recorded on every object."""
    problems: list[str] = []
    failed: set[tuple[Any, ...]] = set()
    try:
        config = StackConfig.model_validate(dict(raw))
    except ValidationError as error:
        for detail in error.errors():
            problems.append(_describe(detail))
            failed.add(tuple(detail["loc"]))
        # Validate again without the broken values (their defaults stand in) so that the rules across keys can
        # report their problems in the same run.
        config = _validate_without(raw, failed)

    problems += cross_key_problems(stack, config, failed, set(secret_keys), raw)
    problems += provider_problems(provider_config)
    if deployed is not None and not failed:
        problems += deployed_problems(config, deployed)
        problems += data_problems(config, deployed)
    if problems:
        raise ConfigError(stack_file(stack), problems)

    args = stack_args(config)
    if owner:
        args["owner"] = owner
    if deployed is not None and deployed.legacy_names:
        args["legacy_names"] = True
    # What the keys make, once each is valid and they agree: the objects, to the API server's rules.
    problems = object_problems(config, args)
    if problems:
        raise ConfigError(stack_file(stack), problems)
    return Settings(config=config, args=args, warnings=tuple(_warnings(stack, config, raw, args)))


def _warnings(stack: str, config: StackConfig, raw: Mapping[str, Any], args: RocketChatStackArgs) -> list[str]:
    plans, notes = plan_workloads(sizing(args))
    warnings = []
    for note in notes:
        if isinstance(note, BelowSizing):
            key = "autoscaling.minReplicas" if note.autoscaled else "replicas"
            warnings.append(
                f"rocketchat:services.ddpStreamer.{key} is {note.replicas}, below the {note.needed} pods "
                f"that {note.concurrent_users} concurrent users need (one per 500)"
            )
        elif isinstance(note, Unlicensed):
            key = "autoscaling.maxReplicas" if note.autoscaled else "replicas"
            warnings.append(
                f"rocketchat:services.{note.workload.key}.{key} is {note.replicas} but no rocketchat:license is "
                "set: without an Enterprise licence every pod beyond the first exits after about 40 seconds; set it "
                f"with `{set_secret_command(stack, 'license', EXAMPLE_LICENSE)}`"
            )
    if not config.create_namespace:
        warnings.append(
            f"rocketchat:createNamespace is false: namespace {config.namespace} must exist before `pulumi up`, and it "
            "is its owner's, labels included: its Pod Security labels are theirs to set (every pod of this stack "
            "meets pod-security.kubernetes.io/enforce=restricted)"
        )
    if config.ingress.enabled is not False and (config.ingress.enabled or config.gateway is None):
        if config.ingress.controller is None and controller_for(config.ingress.class_name) is None:
            warnings.append(
                f"rocketchat:ingress.className {config.ingress.class_name} is no controller this program knows, so the "
                "Ingress gets no websocket timeout, body size or sticky-session settings: check that your controller "
                "keeps an idle websocket open for an hour, accepts 100 MiB uploads and keeps SockJS clients on one "
                "ddp-streamer pod, or name it with rocketchat:ingress.controller (one of "
                f"{', '.join(CONTROLLERS)}; docs/ingress-controllers.md)"
            )
    warnings += _workspace_warnings(config)
    if config.mongodb.allow_data_loss:
        warnings.append(
            "rocketchat:mongodb.allowDataLoss is true: this update may delete or abandon the in-cluster database's "
            "data without asking; remove the key once the change is made"
        )
    if config.mode == "raw" and "chart" in raw:
        warnings.append("rocketchat:chart is ignored in raw mode")
    warnings += ignored_settings(config, raw, plans)
    warnings += annotation_overrides(config, args)
    if config.mode == "helm" and any(p.workload.key == "streamHub" for p in plans):
        warnings.append(
            f"Rocket.Chat {config.version} runs stream-hub, and the official chart rolls it out with maxSurge 1: two "
            "stream-hubs run side by side during every upgrade (the policy pack rejects this); mode 'raw' uses Recreate"
        )
    # Never an error: an old version still deploys (components/support_window.py, docs/versions.md).
    if config.version and (note := support_window.support_note(config.version, support_window.today())):
        warnings.append(note)
    return warnings


def _workspace_warnings(config: StackConfig) -> list[str]:
    warnings = (
        setting_problems(config.version, config.settings, revealed(config.secret_settings))[1] if config.version else []
    )
    production = config.monolith.replicas > 1 or config.concurrent_users >= 1000
    if production and config.uploads.storage in (None, "gridfs"):
        warnings.append(
            "rocketchat:uploads.storage is GridFS (Rocket.Chat's default) in a stack of production size: every file "
            "then lives in MongoDB, which grows with them; Rocket.Chat recommends object storage: set "
            "rocketchat:uploads.storage to 's3' (or 'filesystem' on a ReadWriteMany volume)"
        )
    if config.mode == "helm" and config.trusted_ca:
        warnings.append(
            "rocketchat:trustedCA in helm mode: the official chart (7.0.2) mounts it in every Rocket.Chat container "
            "but takes extra environment for the monolith only, so only the monolith trusts it (NODE_EXTRA_CA_CERTS); "
            "a MongoDB whose certificate the CA signed needs mode 'raw'"
        )
    if config.mode == "helm" and config.uploads.tmp_size:
        warnings.append(
            "rocketchat:uploads.tmpSize is ignored in helm mode: the official chart's monolith has a /tmp of its own "
            "that its values do not size"
        )
    return warnings


def settings_from_pulumi() -> Settings:
    """The entry point for `__main__.py`: this stack's config, validated against what it runs and against what the
    cluster holds under the names it would create (stack_config.ownership)."""
    stack = pulumi.get_stack()
    raw, secret_keys, provider_config = read_stack_config()
    deployed = read_deployed()
    owner = stack_owner(pulumi.get_organization(), pulumi.get_project(), stack)
    settings = load_settings(stack, raw, secret_keys, provider_config, deployed=deployed, owner=owner)
    own = deployed.objects if deployed else read_own_objects()
    notes = check_ownership(stack, stack_objects(settings.args), owner, own, provider_config)
    return replace(settings, warnings=settings.warnings + tuple(notes))
