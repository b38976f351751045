"""Errors of the `assist` package.

AssistError          root
└── CatalogError     an intents, rules or knowledge file that cannot be used; also a
                     `contract.settings.SettingsError` (`source`: the file, `key`: where)
"""

from contract.settings import SettingsError


class AssistError(Exception):
    pass


class CatalogError(AssistError, SettingsError):
    pass
