"""What officers type into the console's forms: amounts in yuan to integer fen (the one rule in
``schemas.money``), and a form refused with a 422 page naming the field."""

from __future__ import annotations

from aiohttp import web

from gateway.console.guard import form_text
from gateway.console.render import render
from schemas.money import fen_of_yuan


class FormError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def yuan_field(form: object, name: str, label: str, optional: bool = False) -> int:
    text = form_text(form, name)
    if optional and not text:
        return 0
    try:
        return fen_of_yuan(text)
    except ValueError as exc:
        raise FormError(name, f"{label}：{exc}") from None


def refuse_form(request: web.Request, exc: FormError) -> web.Response:
    return render(request, "error.html", status=422, title="表单有误", message=str(exc),
                  errors=[{"field": exc.field, "message": str(exc)}])
