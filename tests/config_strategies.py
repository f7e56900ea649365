"""Stack configs generated from the schema itself (stack_config/schema.py), for the property tests.

Every key of every model is reachable: a model's fields become optional keys of a dict; a field's type, its bounds
(`ge`/`le`, list lengths), its literals and its validators decide the values. Values are mostly valid, and sometimes
not: a wrong type, a bound crossed, a value a rule refuses. Validators are matched to pools of values, valid and
invalid, by the rule they apply (the API server's rules of stack_config/api_rules.py, the schema's own), so a new key
with an existing type is generated without a change here. On top: keys that do not exist (a field's Python name,
a typo, a nested key set without `--path`), and the two secrets given encrypted, in plain text, empty or blank.
"""

from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types
from hypothesis import strategies as st
from pydantic import AfterValidator, BaseModel, SecretStr
from pydantic.fields import FieldInfo

from stack_config import api_rules
from stack_config.diagnostics import SECRET_KEYS
from stack_config.schema import StackConfig

Strategy = st.SearchStrategy[Any]
INVALID_ONE_IN = 15
"""About one value in this many is drawn from the invalid side (the rest are valid), so that a config of a dozen keys
is often accepted and often refused."""
SECRET_MARKER = "Sekret-1234"
"""In every generated secret value: a message or warning that shows it has leaked one."""

HUGE: Strategy = st.sampled_from([400, 70, 63]).map(lambda power: 10**power)
"""Integers beyond an int64 and beyond a double (built from their exponent, so that reprs stay short)."""
WRONG_TYPES: Strategy = st.one_of(
    st.integers(min_value=-3, max_value=3),
    HUGE,
    st.sampled_from([-(2**70), 1.5, 2.0, float("nan")]),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["a", "replicas"]), st.integers(), max_size=1),
)

DNS_LABELS = ["rocketchat", "chat-2", "a", "team-b", "x" * 40, "y" * 63, "1chat", "monitoring"]
BAD_DNS_LABELS = ["Rocket", "-a", "a-", "z" * 64, " chat", "chat\n", "ch_at", "", "chat.example", "ö"]
SUBDOMAINS = ["nginx", "letsencrypt-prod", "a.b.c", "rocketchat-tls", "gp3", "s" * 63 + "." + "t" * 60, "9x"]
BAD_SUBDOMAINS = ["A", "a..b", "-a.b", "u" * 254, "a.b\n", " a", "a_b", "", ".a"]
HOSTS = ["chat.example.com", "a.b", "chat-2.example.org", "x" * 63 + ".example.com"]
BAD_HOSTS = [
    "10.0.0.1",
    "https://chat.example.com",
    "chat",
    "chat.example.com/x",
    "Chat.example.com",
    " chat.example.com",
    "chat.example.com\n",
    "*.example.com",
    "1.2.3.4",
    ".",
    "a." * 130 + "com",
]
VERSIONS = ["8.6.1", "8.0.0", "7.7.1", "7.7.0", "7.6.2", "8.6.1-rc.1"]
BAD_VERSIONS = ["latest", "8.6", "^8.6.1", "8.6.1+build.7", "8.6.1\n", " 8.6.1", "v8.6.1", "8.6.1-" + "a" * 60, ""]
CHART_VERSIONS = ["7.0.2"]
BAD_CHART_VERSIONS = ["^7.0.0", "7.x", "7.0.2\n", "7"]
RELEASE_NAMES = ["rocketchat", "chat", "rc-prod", "r" * 32, "r" * 33, "r" * 53, "1chat"]
BAD_RELEASE_NAMES = ["natschat", "q" * 54, "Chat", "chat\n"]
INSTANCES = ["rocketchat", "team-a", "i" * 40, "1team", "chat"]
BAD_INSTANCES = ["i" * 41, "Team", "team_a"]
CPU = ["100m", "1", "0.5", "2", "250m", "0", "1e3", "3m"]
BAD_QUANTITIES = ["1 GB", "abc", "-1", "1.5.2", " 1", "1Gi\n", "Mi"]
MEMORY = ["512Mi", "1Gi", "4Gi", "64Mi", "2G", "1048576", "100m", "1", "0", "128Mi", "16Gi"]
STORAGE = ["8Gi", "1Gi", "100Gi", "0", "1", "500Mi"]
LABEL_KEYS = ["release", "example.com/team", "team_a", "a" * 63, "kubernetes.io/hostname"]
BAD_LABEL_KEYS = ["a" * 64, "-x", "Example_Bad.com/x", "x/y/z", "/x", "", "bad key", "x\n"]
LABEL_VALUES = ["chat", "", "kube-prometheus", "v1.2_3", "a" * 63]
BAD_LABEL_VALUES = ["a b", "a" * 64, "-a", "a\n", "ä"]
ANNOTATION_KEYS = [
    "nginx.ingress.kubernetes.io/proxy-body-size",
    "nginx.ingress.kubernetes.io/proxy-read-timeout",
    "nginx.ingress.kubernetes.io/affinity",
    "nginx.ingress.kubernetes.io/session-cookie-name",
    "example.com/Owner",
    "team",
]
ANNOTATIONS_THE_STACK_SETS = [
    "pulumi.com/patchForce",
    "pulumi.com/skipAwait",
    "cert-manager.io/cluster-issuer",
    "rocketchat.chat/owned-by",
]
BAD_ANNOTATION_KEYS = ["bad key", "a/b/c", "-x", "", "x" * 64]
WEB_ADDRESSES = ["https://rocketchat.github.io/helm-charts", "oci://registry.example.com/charts", "http://127.0.0.1:1"]
BAD_WEB_ADDRESSES = ["ftp://x", "https://a b", "https://", "charts.example.com", "https://x\n"]
PREFIXES = ["external-dns.alpha.kubernetes.io/", "dns.example.com/"]
BAD_PREFIXES = ["bad prefix/", "../", "x", "Dns.example.com/", "/"]
MONGO_URLS = [
    f"mongodb://rc:{SECRET_MARKER}@db-0.example.net:27017/rocketchat?replicaSet=rs0",
    f"mongodb+srv://rc:{SECRET_MARKER}@cluster0.example.net/rocketchat",
]
BAD_MONGO_URLS = [
    "",
    "   ",
    f"postgres://rc:{SECRET_MARKER}@db.example.net/rocketchat",
    f"mongodb://rc:{SECRET_MARKER}@db.example.net/rocketchat",
    f" mongodb+srv://rc:{SECRET_MARKER}@cluster0.example.net/rocketchat\n",
]
LICENCES = [f"licence-{SECRET_MARKER}"]
BAD_LICENCES = ["", " \n"]


@dataclass(frozen=True)
class Pool:
    valid: list[Any]
    invalid: list[Any]


def _rule_of(validator: Any) -> Any:
    """What a validator applies: the API server rule a `_checked` validator wraps, else the function itself."""
    func = validator.func
    nonlocals = inspect.getclosurevars(func).nonlocals
    return nonlocals.get("rule", func)


POOLS: dict[Any, Pool] = {
    api_rules.dns_label: Pool(DNS_LABELS, BAD_DNS_LABELS),
    api_rules.dns_subdomain: Pool(SUBDOMAINS, BAD_SUBDOMAINS),
    api_rules.qualified_name: Pool(LABEL_KEYS, BAD_LABEL_KEYS),
    api_rules.label_value: Pool(LABEL_VALUES, BAD_LABEL_VALUES),
    api_rules.annotation_key: Pool(ANNOTATION_KEYS, BAD_ANNOTATION_KEYS + ANNOTATIONS_THE_STACK_SETS),
    api_rules.whole_bytes: Pool(MEMORY, BAD_QUANTITIES),
    api_rules.storage: Pool(STORAGE, BAD_QUANTITIES),
}
"""Values for each API server rule a validator applies (the last validator of a field decides: `Bytes` is a
quantity, then whole bytes)."""
POOLS_BY_NAME: dict[str, Pool] = {
    "_quantity": Pool(CPU, BAD_QUANTITIES),
    "_host": Pool(HOSTS, BAD_HOSTS),
    "_semver": Pool(VERSIONS, BAD_VERSIONS),
    "_chart_version": Pool(CHART_VERSIONS, BAD_CHART_VERSIONS),
    "_release_name": Pool(RELEASE_NAMES, BAD_RELEASE_NAMES),
    "_instance": Pool(INSTANCES, BAD_INSTANCES),
    "_annotation_prefix": Pool(PREFIXES, BAD_PREFIXES),
    "_web_address.<locals>.check": Pool(WEB_ADDRESSES, BAD_WEB_ADDRESSES),
    "_registry": Pool(
        ["registry.example.com", "registry.example.com:5000/mirror", "mirror.local/rocketchat"],
        ["https://registry.example.com", "Registry.example.com", "registry.example.com/", "r:99999999"],
    ),
    "_digest": Pool(["sha256:" + "0123456789abcdef" * 4], ["sha256:abc", "md5:" + "0" * 32, "SHA256:" + "a" * 64]),
    "_email": Pool(["admin@example.com", "chat+ops@mail.example.org"], ["admin", "a@b", "a b@example.com", ""]),
    "_username": Pool(["admin", "rocket.cat", "ops_1"], ["", "a b", "x" * 65, "admin\n", "ä"]),
    "_pem": Pool(
        ["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"],
        ["", "MIIB", "-----BEGIN CERTIFICATE-----"],
    ),
}
"""Values for the schema's own validators, by their name."""
PLAIN_TEXT = Pool(["", "dedicated", "chat", "x" * 70, "1000"], ["a b", "\n"])
"""Strings no validator checks (a toleration's key and value, annotation values): anything, some of it odd."""


@st.composite
def mostly(draw: st.DrawFn, valid: Strategy, invalid: Strategy) -> Any:
    """A valid value, or about one time in INVALID_ONE_IN an invalid one."""
    # Valid first, so that a failing example shrinks towards valid values (an integer draw leans to its bounds).
    return draw(invalid) if draw(_ONE_IN) else draw(valid)


_ONE_IN = st.sampled_from([False] * (INVALID_ONE_IN - 1) + [True])


def _flatten(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any], bool]:
    """The type under `Optional` and `Annotated`, every constraint and validator met on the way, and whether None
    is allowed."""
    optional = False
    found = list(metadata)
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            for item in extra:
                found += item.metadata if isinstance(item, FieldInfo) else [item]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(members) < len(typing.get_args(annotation))
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation, found, optional


def value_strategy(annotation: Any, metadata: list[Any], path: tuple[str, ...]) -> Strategy:
    base, found, _optional = _flatten(annotation, metadata)
    origin = typing.get_origin(base)
    if origin in (typing.Union, types.UnionType):  # several types allowed: any of them
        return st.one_of([value_strategy(member, found, path) for member in typing.get_args(base)])
    if isinstance(base, type) and issubclass(base, BaseModel):
        return mostly(model_strategy(base, path), WRONG_TYPES)
    if origin is Literal:
        choices = list(typing.get_args(base))
        return mostly(st.sampled_from(choices), st.one_of(WRONG_TYPES, st.sampled_from(["Raw", "helm ", "2"])))
    if base is bool:
        return mostly(st.booleans(), st.one_of(WRONG_TYPES, st.sampled_from(["yes", "true", 1, 0])))
    if base is int:
        return _integers(found)
    if base is str:
        return _strings(found, path)
    if base is SecretStr:
        return st.sampled_from(MONGO_URLS if path[-1] == "mongoUrl" else LICENCES)
    if origin is dict:
        key_type, value_type = typing.get_args(base)
        # A key of any wrong type, as JSON has them: text (a list or an object cannot be one).
        keys = value_strategy(key_type, [], (*path, "<key>")).map(lambda k: k if isinstance(k, str) else str(k))
        values = value_strategy(value_type, [], (*path, "<value>"))
        if path[-1] == "annotations":
            # At times an annotation over 256 KiB (built, so that the strategy's repr stays short).
            values = st.one_of(values, values, values, st.builds(lambda: "x" * 300_000))
        return mostly(st.dictionaries(keys, values, max_size=3), WRONG_TYPES)
    if origin is list:
        (item_type,) = typing.get_args(base)
        low = next((m.min_length for m in found if isinstance(m, annotated_types.MinLen)), 0)
        high = next((m.max_length for m in found if isinstance(m, annotated_types.MaxLen)), 3)
        items = value_strategy(item_type, [], (*path, "[]"))
        return mostly(st.lists(items, min_size=low, max_size=min(high, 3)), WRONG_TYPES)
    raise NotImplementedError(f"no strategy for {base!r} at {'.'.join(path)}: add one to tests/config_strategies.py")


def _integers(found: list[Any]) -> Strategy:
    low = next((m.ge for m in found if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in found if isinstance(m, annotated_types.Le)), None)
    start = low if low is not None else 0
    valid = st.one_of(
        st.integers(min_value=start, max_value=min(high if high is not None else start + 6, start + 6)),
        st.sampled_from([v for v in (high, 2000, 5000, 20_000) if v is not None and (high is None or v <= high)]),
    )
    edges = [v for v in (low - 1 if low is not None else None, high + 1 if high is not None else None) if v is not None]
    invalid = st.one_of(WRONG_TYPES, HUGE, HUGE.map(lambda n: -n), st.sampled_from([*edges, 10**12, 2**63]))
    return mostly(valid, invalid)


UNPOOLED: dict[str, Any] = {}
"""Keys whose validator has no pool here (`test_every_validator_has_values` names them): they get plain text."""


def _strings(found: list[Any], path: tuple[str, ...]) -> Strategy:
    validators = [m for m in found if isinstance(m, AfterValidator)]
    pool = PLAIN_TEXT
    if validators:
        rule = _rule_of(validators[-1])
        found_pool = POOLS.get(rule) or POOLS_BY_NAME.get(getattr(rule, "__qualname__", ""))
        if found_pool is None:
            UNPOOLED[".".join(path)] = rule
        else:
            pool = found_pool
    if not validators and path[-2:] == ("[]", "key"):
        pool = Pool(["", *LABEL_KEYS], BAD_LABEL_KEYS)  # a toleration's key is a label key
    if not validators and path[-2:] == ("[]", "value"):
        pool = Pool(LABEL_VALUES, BAD_LABEL_VALUES)
    return mostly(st.sampled_from(pool.valid), st.one_of(st.sampled_from(pool.invalid), WRONG_TYPES))


def _python_names(model: type[BaseModel]) -> list[str]:
    return [name for name, info in model.model_fields.items() if info.alias and info.alias != name]


def model_strategy(model: type[BaseModel], path: tuple[str, ...] = ()) -> Strategy:
    """A dict of any of the model's keys, with at times a key it does not have."""
    optional = {
        (info.alias or name): value_strategy(info.annotation, list(info.metadata), (*path, info.alias or name))
        for name, info in model.model_fields.items()
        if not (path == () and (info.alias or name) in SECRET_KEYS)  # the secrets: see `stack_config_overrides`
    }
    required = {
        (info.alias or name): optional.pop(info.alias or name)
        for name, info in model.model_fields.items()
        if info.is_required() and (info.alias or name) in optional
    }
    wrong_keys = [*_python_names(model), *(k[:-1] for k in optional if len(k) > 3)]
    body = st.fixed_dictionaries(required, optional=optional)
    if not wrong_keys:
        return body
    extra = st.dictionaries(st.sampled_from(wrong_keys), st.integers(1, 3), max_size=1)
    return st.builds(lambda b, e: {**b, **e}, body, mostly(st.just({}), extra))


def _nested_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, info in model.model_fields.items():
        base, _, _ = _flatten(info.annotation, [])
        key = (*prefix, info.alias or name)
        if isinstance(base, type) and issubclass(base, BaseModel):
            found += _nested_paths(base, key)
        elif prefix:
            found.append(key)
    return found


NESTED_KEYS = [".".join(p) for p in _nested_paths(StackConfig)]
"""Every nested key as `pulumi config set` without `--path` would store it: one flat key with dots."""
TOP_LEVEL = dict(StackConfig.model_fields)


@st.composite
def stack_config_overrides(draw: st.DrawFn) -> dict[str, Any]:
    """A whole `rocketchat:` config as `run_program` overrides take it (`Secret` for an encrypted value)."""
    from tools.engine import Secret

    config = draw(model_strategy(StackConfig))
    # The keys a stack cannot run without, there nearly always (the schema's required ones are optional keys).
    for key, values, bad in (("mode", ["raw", "helm"], ["Raw"]), ("host", HOSTS, BAD_HOSTS), ("version", VERSIONS, [])):
        config.setdefault(key, draw(mostly(st.sampled_from(values), st.sampled_from([*bad, 3]))))
    overrides: dict[str, Any] = {f"rocketchat:{key}": value for key, value in config.items()}
    # A MongoDB source: the in-cluster one (as generated, or added), or the URL, given as a secret (or not).
    source = draw(st.sampled_from(["inCluster", "url", "url", "both", "none"]))
    if source in ("inCluster", "both") and not isinstance(config.get("mongodb"), dict):
        overrides["rocketchat:mongodb"] = {"inCluster": {}}
    if source == "url" and isinstance(config.get("mongodb"), dict):
        overrides["rocketchat:mongodb"] = {k: v for k, v in config["mongodb"].items() if k != "inCluster"}
    if source in ("url", "both"):
        url = draw(mostly(st.sampled_from(MONGO_URLS), st.sampled_from(BAD_MONGO_URLS)))
        overrides["rocketchat:mongoUrl"] = draw(mostly(st.just(Secret(url)), st.just(url)))
    if draw(st.booleans()):
        licence = draw(mostly(st.sampled_from(LICENCES), st.sampled_from(BAD_LICENCES)))
        overrides["rocketchat:license"] = draw(mostly(st.just(Secret(licence)), st.just(licence)))
    # At times a nested key set without `--path` (a flat key with dots in its name), or a secret under its Python name.
    if draw(_ONE_IN):
        key = draw(st.sampled_from([*NESTED_KEYS, "mongo_url"]))
        overrides[f"rocketchat:{key}"] = Secret(MONGO_URLS[0]) if key == "mongo_url" else draw(st.integers(1, 3))
    return overrides
