"""What every `copydesk` command shares: exit codes, the one error format, settings, checks.

Every error reaches the user as one line on stderr, `copydesk: error: WHAT`, with the exit
code the README lists: 1 a service or the store failed, 2 usage or configuration error.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from .settings import Settings, SettingsError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
#: Interrupted by a second Ctrl-C / SIGTERM, or before anything was done (128 + SIGINT).
EXIT_INTERRUPTED = 130


class CommandError(click.ClickException):
    """A service or the store failed (exit 1); the message says which and why."""

    exit_code = EXIT_FAILURE


class ConfigError(CommandError):
    """A setting is invalid: a usage error (exit 2)."""

    exit_code = EXIT_USAGE


def error_line(message: str) -> str:
    return f"copydesk: error: {' '.join(str(message).split())}"


class CopydeskGroup(click.Group):
    """click.Group whose errors are all printed the same way, as one line."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(error_line(exc.format_message()) + hint, err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(error_line(exc.format_message()), err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("copydesk: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except OSError as exc:
            if exc.errno == 32:  # EPIPE: the reader went away (`copydesk search x | head -1`)
                sys.exit(EXIT_OK)
            raise
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)


def setup_logging(settings: Settings, level: str | None = None) -> None:
    """Logs of every command: COPYDESK_LOG_FORMAT (JSON by default) on stderr."""
    from .logging import configure_logging

    configure_logging(level or settings.log_level, fmt=settings.log_format)


def fail(message: str) -> NoReturn:
    raise CommandError(message)


def load_settings(**overrides: Any) -> Settings:
    """The settings in effect, or a one-line configuration error (exit 2)."""
    try:
        return Settings.from_env(**overrides)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None


def open_checked_store(settings: Settings, *, create: bool = False):
    """The configured store, after checking that its folder or bucket exists (or creating it)."""
    from .storage import StoreError, open_store

    try:
        store = open_store(settings.store)
        store.ensure_exists(create=create)
    except ValueError as exc:
        raise ConfigError(f"COPYDESK_STORE: {exc}") from None
    except StoreError as exc:
        raise CommandError(f"store {settings.store}: {exc}") from None
    return store


def startup_checks(settings: Settings, *, store: bool = True, broker: bool = True, create: bool = False,
                   needs_store: bool = True, models: bool = False):
    """The topic and language models load (`models`), the store, checked to exist
    (`needs_store`) and to be readable and writable (`store`), and the broker checked to
    answer (`broker`)."""
    from .checks import StartupError, check_broker, check_models, check_store
    from .storage import open_store

    opened = open_checked_store(settings, create=create) if needs_store or store else open_store(settings.store)
    try:
        if models:
            check_models(settings)
        if store:
            check_store(opened, settings)
        if broker:
            check_broker(settings.broker_url)
    except StartupError as exc:
        raise CommandError(str(exc)) from None
    return opened


def configure_app(settings: Settings):
    """The Celery app, configured from `settings` (imported here: nothing is built at import)."""
    from .app import configure

    return configure(settings)
