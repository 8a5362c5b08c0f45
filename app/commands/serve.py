"""``synthrag serve``: run the HTTP service with uvicorn."""

from __future__ import annotations

import argparse
import logging

from app.host_policy import check_exposure
from app.main import create_app
from kernel.settings import Settings

log = logging.getLogger(__name__)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until interrupted."""
    import uvicorn

    host = args.host or settings.host
    port = args.port or settings.port
    check_exposure(host, settings)  # ConfigError (exit 2) for an open service on a public address
    log.info("serving on http://%s:%d (docs at /docs)", host, port)
    # Our logging (text or JSON) and access log replace uvicorn's own configuration.
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
    )
    return 0
