"""The program's adapter from stack config to the components' args: schema, diagnostics, rules, reading.

Only the program (`__main__.py`) and the project's tools and tests use it; no component imports it, so the components
can be used by another program with its own values.
"""

from stack_config.diagnostics import ConfigError, stack_file
from stack_config.reading import decode_stack_config, read_stack_config
from stack_config.schema import StackConfig
from stack_config.settings import Settings, load_settings, settings_from_pulumi, stack_args

__all__ = [
    "ConfigError",
    "Settings",
    "StackConfig",
    "decode_stack_config",
    "load_settings",
    "read_stack_config",
    "settings_from_pulumi",
    "stack_args",
    "stack_file",
]
