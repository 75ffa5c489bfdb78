"""The ``alliance`` command line.

Every user mistake (bad scenario, out-of-range parameter, unwritable folder, ...) ends in one line
``alliance: error: WHAT`` on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import click

from model.parameters import ParameterError, Parameters
from model.scenario import DEFAULT_SCENARIO, Scenario, ScenarioError, builtin_scenarios
from runs.output import OutputError

USER_ERRORS = (ScenarioError, ParameterError, OutputError)


class UserError(click.ClickException):
    """A mistake in the user's input: one line, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"alliance: error: {self.format_message()}", err=True)


def user_errors(func):
    """Turn the model's validation errors into :class:`UserError`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except USER_ERRORS as exc:
            raise UserError(str(exc)) from None

    return wrapper


def _parse_sets(values: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for item in values:
        name, sep, raw = item.partition("=")
        if not sep:
            raise ParameterError(f"--set {item!r}: expected NAME=VALUE, e.g. --set alpha=0.03")
        try:
            out[name.strip()] = float(raw)
        except ValueError:
            raise ParameterError(f"--set {item!r}: expected a number after '='") from None
    return out


def build_scenario(
    scenario: str,
    sets: tuple[str, ...] = (),
    events: tuple[str, ...] = (),
    overlays: tuple[str, ...] = (),
    steps: int | None = None,
) -> Scenario:
    """Load a scenario and apply --set, --event and --overlay, validating each."""
    from model.scenario import load_scenario

    spec = load_scenario(scenario)
    if sets:
        spec = spec.with_parameters(**_parse_sets(sets))
    for overlay in overlays:
        spec = spec.with_overlay(overlay, steps=steps)
    for item in events:
        date, sep, name = item.partition(":")
        if not sep:
            raise ScenarioError(
                f"--event {item!r}: expected DATE:NAME, e.g. --event 2026-01:war-ends"
            )
        spec = spec.with_counterfactual(date, name, steps=steps)
    return spec


def _scenario_help() -> str:
    names = ", ".join(builtin_scenarios() + ["synthetic"])
    return f"Built-in scenario name ({names}) or path to a scenario TOML file."


def _parameter_help() -> str:
    return "Override a model parameter, e.g. --set alpha=0.03 (repeatable). Names: " + ", ".join(
        Parameters.names()
    )


scenario_option = click.option(
    "--scenario", default=DEFAULT_SCENARIO, show_default=True, help=_scenario_help()
)
set_option = click.option(
    "--set", "sets", multiple=True, metavar="NAME=VALUE", help=_parameter_help()
)
event_option = click.option(
    "--event",
    "events",
    multiple=True,
    metavar="DATE:NAME",
    help="Apply the scenario's named counterfactual at a month, e.g. 2026-01:war-ends "
    "(repeatable).",
)
overlay_option = click.option(
    "--overlay",
    "overlays",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="TOML file of extra dated [[events]] to overlay on the scenario (repeatable).",
)


class OneLineErrors(click.Group):
    """The command group, with click's own usage errors (a bad option value, a missing argument)
    on one line like the model's: ``alliance: error: ... (see 'alliance run --help')``, exit 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # plain `alliance`: the help
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "alliance"
            message = exc.format_message().replace("\n", " ")
            click.echo(f"alliance: error: {message} (see '{where} --help')", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="alliance-durability")
def main() -> None:
    """Alliance durability: how long do partnerships of interest last when each partner
    endorses the other's violations of the principles it preaches?

    Quick start: `alliance run` simulates the default scenario (Russia–DPRK from 2023) and writes
    spells.csv, timeseries.csv, states.csv and run.json to a results folder.
    """
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "alliance-numba"))


@main.command()
@scenario_option
@click.option(
    "--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Random seed."
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    help="Months to simulate [default: the scenario's horizon].",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Results folder [default: results/SCENARIO-seedSEED].",
)
@set_option
@event_option
@overlay_option
@click.option(
    "--twins", is_flag=True, help="Also run the credibility-frozen twin; adds pivotality columns."
)
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@user_errors
def run(scenario, seed, steps, out, sets, events, overlays, twins, quiet) -> None:
    """Run one simulation and write its results."""
    from runs.single import run_single
    from runs.summary import summarize_run

    spec = build_scenario(scenario, sets, events, overlays, steps)
    out = out or Path("results") / f"{spec.name}-seed{seed}"
    result = run_single(spec, seed=seed, steps=steps, out=out, twins=twins)
    if not quiet:
        click.echo(summarize_run(result))


def _check_port_free(host: str, port: int) -> None:
    """Fail with one line if ``host:port`` cannot be listened on (before Solara starts)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UserError(f"--host {host!r}: not an address to listen on ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise UserError(
                f"--port {port}: cannot listen on {host}:{port} ({exc.strerror}); "
                "expected a free port, e.g. --port 8766"
            ) from None


@main.command()
@scenario_option
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port of the page.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; the default serves this machine only.",
)
@user_errors
def viz(scenario, port, host) -> None:
    """Explore a scenario step by step in the browser (a Mesa SolaraViz page).

    Prints the page's address; Ctrl+C stops the server. The page works offline.
    """
    from model.scenario import load_scenario

    spec = load_scenario(scenario)  # a bad name or file fails here, in one line
    _check_port_free(host, port)
    named = scenario in builtin_scenarios() or scenario == "synthetic"
    os.environ["ALLIANCE_SCENARIO"] = scenario if named else str(Path(scenario).resolve())
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "false")  # no usage pings
    from solara.__main__ import cli as solara_cli  # here, so that `alliance run` starts fast

    # Solara warns on every plain-http page load that it cannot set an iframe-embeddable cookie;
    # this page is not embedded, so the warning is noise in the user's terminal.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")

    app = Path(__file__).with_name("app.py")
    click.echo(f"alliance: {spec.name} in the browser at http://{host}:{port}/ (Ctrl+C stops it)")
    sys.stdout.flush()
    solara_cli.main(
        [
            "run",
            str(app),
            "--host",
            host,
            "--port",
            str(port),
            "--production",
            "--no-open",
            "--no-check-version",
        ],
        prog_name="solara",
        standalone_mode=False,
    )


# Commands defined in their own modules (each keeps its heavy imports inside the function).
from runs.cli_analysis import analyze, calibrate, sensitivity  # noqa: E402
from runs.cli_batch import batch  # noqa: E402
from runs.cli_pivotality import pivotality  # noqa: E402
from runs.cli_validate import validate  # noqa: E402

main.add_command(batch)
main.add_command(pivotality)
main.add_command(validate)
main.add_command(analyze)
main.add_command(calibrate)
main.add_command(sensitivity)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
