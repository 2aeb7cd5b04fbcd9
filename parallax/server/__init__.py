"""The Parallax web app: upload a stereo photo, see it in 3D, download, share, contribute.

``parallax serve`` runs it; :func:`create_app` builds the ASGI application for a
:class:`ServerConfig`. FastAPI, uvicorn and python-multipart come with the ``web``
extra (``pip install 'parallax[web]'``); the front end is :mod:`parallax.web` (plain ES
modules; three.js and Spark from ``npm ci`` in a checkout, vendored into a wheel).
"""

from __future__ import annotations

from typing import Any

from parallax.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]


def create_app(config: ServerConfig) -> Any:
    """Build the FastAPI application.

    Parameters
    ----------
    config : ServerConfig
        Settings (data folder, limits, tokens).

    Returns
    -------
    fastapi.FastAPI
        The application; ``app.state.service`` is its :class:`~parallax.server.service.ParallaxService`
        and, once started, ``app.state.loop`` its event loop.

    Raises
    ------
    MissingDependencyError
        When the ``web`` extra is not installed.
    """
    from parallax.errors import require

    require("fastapi", "web", "the web app")
    require("python_multipart", "web", "uploads to the web app")
    from parallax.server.app import build_app

    return build_app(config)
