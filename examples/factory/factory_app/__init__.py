"""A Flask app built with an application factory."""

import os

from flask import Flask, jsonify, request

__version__ = "1.0.0"


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("FACTORY_SECRET_KEY", "dev"),
        # SERVER_NAME would make Flask reject preview hosts; the subdomain is
        # told apart by the Host header instead.
        APP_DOMAIN=os.environ.get("FACTORY_DOMAIN", "factory.localhost"),
    )
    if test_config is not None:
        app.config.update(test_config)

    def version():
        return os.environ.get("DEPL_VERSION", "dev")

    def subdomain():
        host = request.host.split(":")[0]
        domain = app.config["APP_DOMAIN"]
        if host != domain and host.endswith("." + domain):
            return host[: -len(domain) - 1]
        return None

    @app.route("/")
    def index():
        if subdomain() == "api":
            return jsonify(app="factory", role="api", version=version())
        return (
            "<!doctype html><html><head><title>factory app</title>"
            '<link rel="stylesheet" href="/static/style.css"></head>'
            f'<body><h1 id="greeting">Hello from the factory app</h1>'
            f'<p>version <span id="version">{version()}</span> on {request.host}</p></body></html>'
        )

    @app.route("/health")
    def health():
        return "ok\n"

    return app
