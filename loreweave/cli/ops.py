"""``loreweave ops``: cluster checks, AWS provisioning, capacity simulation, GPU metrics.

Each command is a thin call of a library function in :mod:`loreweave.ops`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

CLUSTER = Path("deploy/ray-cluster/cluster.yaml")
SERVE = Path("deploy/ray-cluster/serve.yaml")
STACK = Path("deploy/ecs/stack.yaml")
MODEL = Path("deploy/capacity/model.yaml")

_file = click.Path(exists=True, dir_okay=False, path_type=Path)


def _console() -> Console:
    return Console(width=max(Console().width, 140))


@click.group("ops")
def ops_group() -> None:
    """Operate Loreweave on AWS: check, provision, simulate capacity, publish GPU metrics."""


@ops_group.command("check")
@click.option("--cluster", type=_file, default=CLUSTER, show_default=True, help="Ray cluster config.")
@click.option("--serve", type=_file, default=SERVE, show_default=True, help="Ray Serve config.")
@click.pass_context
def check_command(ctx: click.Context, cluster: Path, serve: Path) -> None:
    """Validate the cluster config with Ray's schema and check the Serve config fits it."""
    from loreweave.ops.check import check_files

    findings = check_files(cluster, serve)
    for finding in findings:
        colour = "red" if finding.level == "error" else "yellow"
        click.secho(str(finding), fg=colour)
    errors = sum(1 for f in findings if f.level == "error")
    click.echo(f"{cluster} and {serve}: {errors} errors, {len(findings) - errors} warnings")
    if errors:
        ctx.exit(1)


def _stack(path: Path):  # type: ignore[no-untyped-def]
    from loreweave.ops.aws import Clients, load_stack

    spec = load_stack(path)
    return spec, Clients(spec.region)


def _print_plan(plan, verb: str) -> None:  # type: ignore[no-untyped-def]
    table = Table(title=f"{verb}: {plan.summary()}")
    for column in ("action", "resource", "fields"):
        table.add_column(column)
    colours = {"create": "green", "update": "yellow", "delete": "red"}
    for change in plan.changes:
        if change.action != "unchanged":
            table.add_row(f"[{colours[change.action]}]{change.action}[/]", change.label, ", ".join(change.fields))
    _console().print(table)


@ops_group.command("plan")
@click.option("--stack", type=_file, default=STACK, show_default=True)
def plan_command(stack: Path) -> None:
    """Show what `ops apply` would create or change, changing nothing."""
    from loreweave.ops.aws import plan

    spec, aws = _stack(stack)
    _print_plan(plan(spec, aws), "plan")


@ops_group.command("apply")
@click.option("--stack", type=_file, default=STACK, show_default=True)
def apply_command(stack: Path) -> None:
    """Create or update the stack; running it twice changes nothing the second time."""
    from loreweave.ops.aws import apply

    spec, aws = _stack(stack)
    _print_plan(apply(spec, aws), "apply")


@ops_group.command("destroy")
@click.option("--stack", type=_file, default=STACK, show_default=True)
@click.option("--yes", is_flag=True, help="Do not ask.")
def destroy_command(stack: Path, yes: bool) -> None:
    """Delete every resource of the stack."""
    from loreweave.ops.aws import destroy

    spec, aws = _stack(stack)
    if not yes:
        click.confirm(f"Delete stack {spec.name} in {spec.region}?", abort=True)
    _print_plan(destroy(spec, aws), "destroy")


@ops_group.command("resources")
@click.option("--stack", type=_file, default=STACK, show_default=True)
def resources_command(stack: Path) -> None:
    """List the stack's resources on AWS and what they cost per month at their current size."""
    from loreweave.ops.aws.inventory import inventory, monthly_total
    from loreweave.ops.prices import PRICES_AS_OF

    spec, aws = _stack(stack)
    items = inventory(spec, aws)
    table = Table(title=f"{spec.name} in {spec.region} (prices {PRICES_AS_OF})")
    for column, justify in (("kind", "left"), ("name", "left"), ("status", "left"),
                            ("$/month", "right"), ("detail", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for item in items:
        table.add_row(item.kind, item.name, item.status, f"{item.monthly_usd:,.2f}", item.detail)
    table.add_row("", "[b]total[/b]", "", f"[b]{monthly_total(items):,.2f}[/b]", "")
    _console().print(table)


@ops_group.command("nats-users")
@click.option("--stack", type=_file, default=STACK, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write (mode 0600): the NATS servers' authorization block, with passwords.")
def nats_users_command(stack: Path, out: Path) -> None:
    """Write the NATS servers' users (the stack's task roles, from Secrets Manager) to a config file."""
    from loreweave.ops.aws.credentials import write_nats_authorization

    spec, aws = _stack(stack)
    click.echo(f"wrote {write_nats_authorization(spec, aws, out)}: include it in the NATS servers' config, then reload")


@ops_group.command("rotate")
@click.argument("role")
@click.option("--stack", type=_file, default=STACK, show_default=True)
def rotate_command(role: str, stack: Path) -> None:
    """Give a task role a new NATS password in its secret (then: nats-users, reload, redeploy)."""
    from loreweave.ops.aws.credentials import rotate_nats_credential

    spec, aws = _stack(stack)
    version = rotate_nats_credential(spec, aws, role)
    click.echo(f"{spec.name}/nats/{role}: new version {version}; next: `loreweave ops nats-users`, reload the "
               "NATS servers, then `aws ecs update-service --force-new-deployment` for that role's services")


@ops_group.command("simulate")
@click.option("--trace", "trace", type=_file, required=True, help="CSV minute,players.")
@click.option("--config", type=_file, default=MODEL, show_default=True, help="Capacity model.")
@click.option("--serve", type=_file, default=None, help="Take tier settings from this Serve config.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("capacity-out"),
              show_default=True, help="Directory of the PNG.")
@click.option("--baseline/--no-baseline", default=True, show_default=True, help="Compare with fixed capacity.")
def simulate_command(trace: Path, config: Path, serve: Path | None, out: Path, baseline: bool) -> None:
    """Simulate replicas, nodes, queueing, latency and cost over a demand trace."""
    from rich.progress import Progress, TaskID

    from loreweave.ops.capacity import simulate_files, summary_table

    console = _console()
    with Progress(console=console, transient=True) as progress:
        tasks: dict[str, TaskID] = {}

        def advance(tier: str, done: int, total: int) -> None:
            if tier not in tasks:
                tasks[tier] = progress.add_task(f"simulating {tier}", total=total)
            progress.update(tasks[tier], completed=done)

        run = simulate_files(trace, config, serve=serve, out=out, baseline=baseline, progress=advance)
    console.print(summary_table([r for r in (run.result, run.baseline) if r is not None]))
    console.print(f"plot: {run.plot}")


@ops_group.command("recommend")
@click.option("--trace", "traces", type=_file, multiple=True, required=True, help="CSV minute,players (repeat).")
@click.option("--config", type=_file, default=MODEL, show_default=True)
@click.option("--serve", type=_file, default=None, help="Take tier settings from this Serve config.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("capacity-out"),
              show_default=True, help="Directory of the PNGs and recommendations.md.")
def recommend_command(traces: tuple[Path, ...], config: Path, serve: Path | None, out: Path) -> None:
    """Search autoscaling settings per tier for each trace; compare with fixed capacity."""
    from rich.progress import Progress

    from loreweave.ops.capacity import load_model, recommend_files, recommendations_markdown, summary_table
    from loreweave.ops.capacity.recommend import candidate_count

    console = _console()
    total = candidate_count(load_model(config, serve)) * len(traces)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("simulating candidate settings", total=total)
        recommendations = recommend_files(list(traces), config, serve=serve, out=out,
                                          on_try=lambda: progress.advance(task))
    results = [r for rec in recommendations for r in (rec.current, rec.autoscaled, rec.baseline) if r]
    console.print(summary_table(results))
    out.mkdir(parents=True, exist_ok=True)
    report = out / "recommendations.md"
    report.write_text(recommendations_markdown(recommendations))
    console.print(f"settings: {report}; plots: {out}/<trace>-recommended.png")


@ops_group.command("traces")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("deploy/capacity/traces"), show_default=True)
def traces_command(out: Path) -> None:
    """Write the example demand traces (diurnal 1k and 10k peak, launch-day spike)."""
    from loreweave.ops.capacity import write_example_traces

    for path in write_example_traces(out):
        click.echo(str(path))


@ops_group.command("metrics")
@click.option("--tier", required=True, help="Tier whose task this is (gold, silver, bronze).")
@click.option("--stack", required=True, help="Stack name (the Stack dimension).")
@click.option("--namespace", default="Loreweave", show_default=True)
@click.option("--region", default=None, help="AWS region of CloudWatch (default: the environment's).")
@click.option("--nats", "nats_url", default=None, envvar="LOREWEAVE_NATS_URL", help="Also publish on NATS.")
@click.option("--cloudwatch/--no-cloudwatch", default=True, show_default=True)
@click.option("--prometheus", "prometheus_url", default="http://127.0.0.1:8080/metrics", show_default=True,
              help="Ray metrics endpoint for the serve queue; '' for none.")
@click.option("--interval", "interval_s", type=float, default=15.0, show_default=True)
@click.option("--once", is_flag=True, help="Publish one snapshot and print it.")
def metrics_command(tier: str, stack: str, namespace: str, region: str | None, nats_url: str | None,
                    cloudwatch: bool, prometheus_url: str, interval_s: float, once: bool) -> None:
    """Publish GPU utilisation and memory (NVML) and the serve queue depth, to CloudWatch and NATS."""
    from loreweave.ops.metrics.run import publish_metrics

    snapshot = asyncio.run(publish_metrics(
        stack=stack, tier=tier, namespace=namespace, region=region, nats_url=nats_url,
        cloudwatch=cloudwatch, prometheus_url=prometheus_url or None, interval_s=interval_s, once=once))
    if snapshot is not None:
        if snapshot.gpu_error:
            click.echo(f"no GPU: {snapshot.gpu_error}; published queue metrics only")
        for name, (value, unit) in snapshot.metrics().items():
            click.echo(f"{name} = {value:.2f} {unit}")
