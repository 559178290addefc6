"""``POST /_floor/insert``: parse the JSON body, INSERT one row in one transaction, answer 202 JSON."""

from __future__ import annotations

import json

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import FloorRow


@csrf_exempt  # like the widget API: no cookies, no CSRF surface
@require_POST
def insert(request: HttpRequest) -> HttpResponse:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"detail": "malformed JSON"}, status=400)
    # The same body as the candidate's request (a lead or a beacon), so the same bytes are parsed and stored.
    with transaction.atomic():
        row = FloorRow.objects.create(body=body)
    return JsonResponse({"id": row.pk, "status": "queued"}, status=202)
