"""Errors of the `assist` package.

AssistError          root
└── CatalogError     an intents, rules or knowledge file that cannot be used
"""


class AssistError(Exception):
    pass


class CatalogError(AssistError):
    pass
