from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def board(request: HttpRequest) -> HttpResponse:
    return HttpResponse("board")


@login_required
def deal_detail(request: HttpRequest, deal_id: int) -> HttpResponse:
    return HttpResponse("deal")
