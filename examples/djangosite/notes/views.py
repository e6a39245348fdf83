import os

from django.db import connection
from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils.html import escape
from django.views.decorators.csrf import csrf_exempt

from .models import Note


def version():
    return os.environ.get("DEPL_VERSION", "dev")


def index(request):
    items = "".join(f"<li>{escape(n.text)} <small>({escape(n.version)})</small></li>" for n in Note.objects.order_by("id"))
    return HttpResponse(
        "<!doctype html><html><head><title>djangosite</title></head><body>"
        f'<h1 id="greeting">Hello from djangosite</h1>'
        f'<p>version <span id="version">{version()}</span> on {escape(request.get_host())}</p>'
        f'<p><a href="/admin/">admin</a></p><ul id="notes">{items}</ul></body></html>'
    )


def health(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok\n", content_type="text/plain")


@csrf_exempt
def notes(request):
    """GET lists the notes as JSON; POST text=... adds one (an API without a session, hence no CSRF)."""
    if request.method == "POST":
        text = request.POST.get("text", "").strip()
        if not text:
            return JsonResponse({"error": "text is required"}, status=400)
        note = Note.objects.create(text=text[:200], version=version())
        return JsonResponse({"id": note.id, "text": note.text, "version": note.version}, status=201)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return JsonResponse({"version": version(), "notes": [{"id": n.id, "text": n.text, "version": n.version} for n in Note.objects.order_by("id")]})
