"""``sseflow report --from-db``: a study's report (every table and figure) from stored documents."""
from __future__ import annotations

import click

from sseflow.workflows.cli.common import config_option


@click.command()
@click.option("--from-db", "from_db", is_flag=True, required=True,
              help="Rebuild the report from the database (the stored documents of the study's last report).")
@click.option("--study", default=None, metavar="NAME", help="Study name (default: the latest report stored).")
@click.option("-o", "--output", default=None, type=click.Path(file_okay=False),
              help="Report folder (default: the study's own output folder).")
@config_option
def report(from_db, study, output, config):
    """Regenerate a study's tables (md, csv, tex), figures (PNG) and report.json from stored documents."""
    from sseflow.workflows.report import stored_manifest, write_report
    from sseflow.workflows.store.api import open_store
    from sseflow.workflows.store.launchpad import get_launchpad

    lp = get_launchpad(config, mode="snapshot")
    manifest = stored_manifest(lp, study)
    with open_store(config, mode="snapshot") as store:
        summary = write_report(manifest, store, output)
    where = output or manifest["output"]
    click.echo(f"wrote {len(summary['files'])} files in {where}: {', '.join(summary['files'])}", err=True)
