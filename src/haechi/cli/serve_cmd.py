"""``haechi serve``: the HTTP API."""

from __future__ import annotations

import typer

from haechi.cli.context import state


def serve_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    drain_seconds: float = typer.Option(
        0.0, "--drain-seconds", min=0,
        help="On SIGTERM, answer readiness with 503 and keep serving this long before "
        "stopping, so a load balancer drains the replica (rolling restarts)."),
    graceful_timeout: float = typer.Option(
        30.0, "--graceful-timeout", min=0,
        help="Once stopping, wait at most this long for requests in flight."),
) -> None:
    """Serve the HTTP API (OpenAPI documentation at /docs). Every endpoint but the health
    checks needs an API key: create one with 'haechi key create'."""
    import uvicorn

    from haechi.api.app import create_app
    from haechi.scale.replicas import draining_server

    app = create_app(settings=state(ctx).settings())
    config = uvicorn.Config(app, host=host, port=port, log_level="info",
                            timeout_graceful_shutdown=int(graceful_timeout))
    draining_server(config, app, drain_seconds).run()
