"""``haechi serve``: the HTTP API."""

from __future__ import annotations

import typer

from haechi.cli.context import state


def serve_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Serve the HTTP API (OpenAPI documentation at /docs). Every endpoint but the health
    checks needs an API key: create one with 'haechi key create'."""
    import uvicorn

    from haechi.api.app import create_app

    app = create_app(settings=state(ctx).settings())
    uvicorn.run(app, host=host, port=port, log_level="info")
