"""manage.py crm_bridge_site add / list."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from crm_bridge.models import Site

pytestmark = pytest.mark.django_db


def run(*args: str, stdin: str | None = None) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    kwargs = {"stdin": io.StringIO(stdin)} if stdin is not None else {}
    call_command("crm_bridge_site", *args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def test_add_prints_only_the_public_key():
    out, err = run(
        "add", "Acme", "--site-key", "crm-secret-1", "--origin", "https://www.acme.example",
        "--origin", "HTTPS://Shop.Acme.example:8443/", "--default-cust-id", "12",
    )  # fmt: skip
    site = Site.objects.get()
    assert out == site.public_key + "\n"
    assert err == ""
    assert site.name == "Acme"
    assert site.site_key == "crm-secret-1"
    assert site.allowed_origins == ["https://www.acme.example", "https://shop.acme.example:8443"]
    assert site.default_cust_id == 12
    assert site.is_active


def test_site_key_from_stdin_keeps_it_out_of_argv():
    out, _ = run("add", "Acme", "--site-key", "-", "--origin", "https://a.example", stdin="from-stdin\n")
    assert Site.objects.get().site_key == "from-stdin"
    assert "from-stdin" not in out


def test_add_without_origin_warns_on_stderr():
    out, err = run("add", "Acme", "--site-key", "k")
    assert out.strip() == Site.objects.get().public_key
    assert "no --origin" in err


@pytest.mark.parametrize(
    "origin", ["www.acme.example", "ftp://acme.example", "https://acme.example/path", "https://", "https://a:99999"]
)
def test_add_refuses_what_is_not_an_origin(origin):
    with pytest.raises(CommandError):
        run("add", "Acme", "--site-key", "k", "--origin", origin)
    assert Site.objects.count() == 0


def test_add_refuses_an_empty_site_key():
    with pytest.raises(CommandError):
        run("add", "Acme", "--site-key", "  ")


def test_list_never_shows_the_site_key():
    Site.objects.create(name="B shop", site_key="SECRET-B", allowed_origins=["https://b.example"])
    Site.objects.create(name="A shop", site_key="SECRET-A", allowed_origins=[], is_active=False)
    out, _ = run("list")
    lines = out.splitlines()
    a, b = Site.objects.get(name="A shop"), Site.objects.get(name="B shop")
    assert lines == [
        f"A shop\t{a.public_key}\t-\tinactive",
        f"B shop\t{b.public_key}\thttps://b.example\tactive",
    ]
    assert "SECRET" not in out
