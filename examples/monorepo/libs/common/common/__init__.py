"""Helpers shared by the monorepo's apps (pure Python)."""

import html


def page(title, body_html):
    return (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1 id=\"title\">{html.escape(title)}</h1>{body_html}</body></html>"
    )
