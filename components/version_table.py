"""What each Rocket.Chat version serves and needs from its pod: the monolith's probe paths and the Apps-Engine's
writable directory. One row per version where something changed, each naming its source (docs/versions.md).

Both modes read it: raw mode's Deployments (components/microservices.py) and the chart's values
(components/release_values.py). The services always answer `GET /health` on `PORT` (catalog.HEALTH_PATH).
"""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_kubernetes.core import v1 as core

from components import k8s
from components.catalog import HEALTH_PATH, ROCKETCHAT_UID
from components.versions import Version

READYZ_PATH = "/readyz"
LIVEZ_PATH = "/livez"

APPS_PACKAGE_DIR = "/app/bundle/programs/server/npm/node_modules/@rocket.chat/apps"
"""The `@rocket.chat/apps` package in the official image: the Meteor bundle is copied to /app (Dockerfile.alpine), and
its server dependencies sit in `bundle/programs/server/npm/node_modules` (Rocket.Chat's build-docker action prunes
`.../npm/node_modules/@rocket.chat/apps/node_modules/@esbuild` there)."""
APPS_RUNTIME_DIR = f"{APPS_PACKAGE_DIR}/deno-runtime"
"""Where the Apps-Engine writes `deno.runtime.jsonc` (next to the package's `deno.jsonc`) before it starts each app's
Deno process: a path derived with `require.resolve`, which no variable moves."""


@dataclass(frozen=True)
class MonolithProbes:
    """The monolith's HTTP probe paths (on its `http` port)."""

    startup: str
    readiness: str
    liveness: str


@dataclass(frozen=True)
class VersionRow:
    """What Rocket.Chat serves and needs from `since` on (until the next row)."""

    since: Version
    serves: tuple[str, ...]
    """The monolith's health endpoints in these versions."""
    probes: MonolithProbes
    """The paths this program probes (a choice among `serves`; docs/versions.md says why)."""
    apps_engine_writable: str | None
    """A directory of the image the Apps-Engine writes into, or None."""
    source: str


_HEALTH_ONLY = MonolithProbes(startup=HEALTH_PATH, readiness=HEALTH_PATH, liveness=HEALTH_PATH)
# Readiness on /readyz (heap against the V8 limit, event-loop lag, a MongoDB ping). Liveness and startup stay on
# /health, which answers 200 without any check once the HTTP server is up: /livez runs the same checks as /readyz, so
# probing liveness there would restart every monolith pod during a MongoDB outage or a busy spell.
_READYZ = MonolithProbes(startup=HEALTH_PATH, readiness=READYZ_PATH, liveness=HEALTH_PATH)

VERSION_TABLE: tuple[VersionRow, ...] = (
    VersionRow(
        since=Version(0, 0, 0),
        serves=(HEALTH_PATH,),
        probes=_HEALTH_ONLY,
        apps_engine_writable=None,
        source=(
            "apps/meteor/server/routes/health.ts, 7.7.1 @ chrisi51/rocketchat-server-7 f010fd1 "
            "(docs/rocketchat-facts.md g)"
        ),
    ),
    VersionRow(
        since=Version(7, 11, 0),
        serves=(HEALTH_PATH, LIVEZ_PATH, READYZ_PATH),
        # /readyz here measures the heap against the heap allocated so far, not the limit, and so reports the pod
        # degraded "very frequently" (RocketChat/Rocket.Chat#38192): readiness stays on /health until the fix.
        probes=_HEALTH_ONLY,
        apps_engine_writable=None,
        source=(
            "RocketChat/Rocket.Chat#36955 (/livez, /readyz; /health deprecated), released in 7.11.0 per "
            "RocketChat/helm-charts#205; the heap check of that version: index file id 6557521351"
        ),
    ),
    VersionRow(
        since=Version(8, 3, 0),
        serves=(HEALTH_PATH, LIVEZ_PATH, READYZ_PATH),
        probes=_READYZ,
        apps_engine_writable=None,
        source=(
            "RocketChat/Rocket.Chat#38192 (heap against the V8 limit): present in an 8.3.0-develop tree "
            "(ojfernandess/Agentslabs.chat @ 06a8a84) and in 8.6.1 (tinyfatco/business-os @ 8d36c0b)"
        ),
    ),
    VersionRow(
        since=Version(8, 5, 0),
        serves=(HEALTH_PATH, LIVEZ_PATH, READYZ_PATH),
        probes=_READYZ,
        apps_engine_writable=APPS_RUNTIME_DIR,
        source=(
            "@rocket.chat/apps 0.7.0, released with 8.5.0, takes the Deno runtime over from @rocket.chat/apps-engine "
            "(RocketChat/Rocket.Chat#40343; packages/apps/CHANGELOG.md); it writes deno-runtime/deno.runtime.jsonc "
            "(packages/apps/src/server/runtime/deno/AppsEngineDenoRuntime.ts, 8.6.1 @ 8d36c0b); chart 7.0.2 "
            "values.yaml: from 8.5.0 the Apps-Engine needs write access to paths owned by UID 65533"
        ),
    ),
)


def row_for(version: Version | str) -> VersionRow:
    """The table's row for a version: the last one it has reached."""
    version = Version.parse(version) if isinstance(version, str) else version
    return [row for row in VERSION_TABLE if row.since <= version][-1]


def monolith_probes(version: Version | str) -> MonolithProbes:
    return row_for(version).probes


def apps_engine_writable_dir(version: Version | str) -> str | None:
    return row_for(version).apps_engine_writable


APPS_ENGINE_VOLUME = "apps-engine-runtime"
APPS_ENGINE_SIZE = "64Mi"
"""The runtime directory holds about 300 KB of TypeScript (8.6.1), plus one generated JSON file."""
APPS_ENGINE_SEED_MOUNT = "/seed"
"""Where the init container sees the volume it fills."""
SEED_RESOURCES = ({"cpu": "10m", "memory": "32Mi"}, {"memory": "64Mi"})


def apps_engine_seed_container(image: str, image_pull_policy: str | None = k8s.IMAGE_PULL_POLICY) -> core.ContainerArgs:
    """The init container that copies the image's own Apps-Engine runtime directory into the volume then mounted over
    it: an emptyDir mounted there empty would hide the files the Deno runtime runs. Same image (so the same files as
    the release it runs), same restricted profile, and it only reads the image and writes the volume."""
    directory = APPS_RUNTIME_DIR
    return core.ContainerArgs(
        name=APPS_ENGINE_VOLUME,
        image=image,
        image_pull_policy=image_pull_policy,
        command=["cp", "-R", f"{directory}/.", f"{APPS_ENGINE_SEED_MOUNT}/"],
        resources=k8s.resources(*SEED_RESOURCES),
        security_context=k8s.container_security(ROCKETCHAT_UID),
        volume_mounts=[core.VolumeMountArgs(name=APPS_ENGINE_VOLUME, mount_path=APPS_ENGINE_SEED_MOUNT)],
    )
