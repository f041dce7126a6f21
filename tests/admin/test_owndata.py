"""The list of one concrete type (djtriggers.admin.owndata): its own fields as columns, searched."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.contrib.admin import AdminSite
from django.contrib.auth.models import User
from django.db import models
from django.db.models import Q
from django.test import RequestFactory

from djtriggers.admin import TriggerAdmin
from djtriggers.admin.owndata import _match, search
from tests.admin.conftest import CHANGELIST, ESCAPED, XSS, listed
from tests.factories import due, failed
from tests.testapp.models import BreakfastTrigger, PayBill

pytestmark = pytest.mark.django_db

PAYBILLS = {"type": "testapp.paybill"}
OWN_COLUMNS = ('class="column-own_amount', 'class="column-own_recipient')


@pytest.fixture
def alice(db) -> User:
    return User.objects.create_user("alice")


@pytest.fixture
def bills(alice: User, root: User) -> dict[str, PayBill]:
    return {
        "alice": due(PayBill, amount=300, recipient=alice, source="shop.order$1"),
        "root": failed(PayBill, amount=42, recipient=root, error="ValueError: balance too low"),
    }


def search_for(client, term: str, url: str = CHANGELIST, **params: str) -> set[int]:
    response = client.get(url, {**params, "q": term})
    assert response.status_code == 200
    return listed(response)


def test_filtered_to_a_concrete_type__its_own_fields_are_columns(client, bills):
    due(source="not a bill")
    response = client.get(CHANGELIST, PAYBILLS)
    html = response.content.decode()
    assert listed(response) == {b.pk for b in bills.values()}
    for column in OWN_COLUMNS:
        assert column in html
    assert '<td class="field-own_amount">300</td>' in html
    assert '<td class="field-own_recipient">alice</td>' in html
    # The rows link to the trigger's page, as always.
    assert f'href="/admin/djtriggers/trigger/{bills["alice"].pk}/change/' in html


def test_the_subclass_admin__its_own_fields_are_columns(client, bills):
    response = client.get("/admin/testapp/paybill/")
    html = response.content.decode()
    assert listed(response) == {b.pk for b in bills.values()}
    assert all(column in html for column in OWN_COLUMNS)


@pytest.mark.parametrize("params", [{}, {"type": "breakfast"}, {"type": "no.such.type"}])
def test_unfiltered_proxy_or_unknown_type__the_list_as_always(client, bills, params):
    breakfast = due(BreakfastTrigger)
    response = client.get(CHANGELIST, params)
    html = response.content.decode()
    assert response.status_code == 200
    assert not any(column in html for column in OWN_COLUMNS)
    assert "own data" not in html
    if params.get("type") == "breakfast":
        assert listed(response) == {breakfast.pk}


def test_sorted_by_an_own_field(client, bills):
    response = client.get(CHANGELIST, {**PAYBILLS, "o": "4"})  # the amount column
    assert [t.pk for t in response.context["cl"].result_list] == [
        bills["root"].pk,
        bills["alice"].pk,
    ]


@pytest.mark.parametrize("rows", [10, 50])
def test_query_count_does_not_grow_with_the_page(client, root, rows, django_assert_num_queries):
    users = [User.objects.create_user(f"user{i}") for i in range(rows)]
    for i, user in enumerate(users):
        due(PayBill, amount=i, recipient=user)
    # session, user, the capped count, the page (a join, the recipients with it), and
    # on the list filtered to the type, whether it is paused
    with django_assert_num_queries(5):
        response = client.get(CHANGELIST, PAYBILLS)
    assert len(response.context["cl"].result_list) == rows
    with django_assert_num_queries(4):
        response = client.get("/admin/testapp/paybill/")
    assert len(response.context["cl"].result_list) == rows
    with django_assert_num_queries(5):
        response = client.get(CHANGELIST, {**PAYBILLS, "q": "user1"})
    assert len(response.context["cl"].result_list) == (11 if rows > 10 else 1)


def test_search__by_amount_and_by_the_recipients_username(client, bills):
    assert search_for(client, "300", **PAYBILLS) == {bills["alice"].pk}
    assert search_for(client, "alice", **PAYBILLS) == {bills["alice"].pk}
    assert search_for(client, "ALI", **PAYBILLS) == {bills["alice"].pk}
    assert search_for(client, "42", **PAYBILLS) == {bills["root"].pk}
    assert search_for(client, "alice", "/admin/testapp/paybill/") == {bills["alice"].pk}


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("\u0664\u0662", {"root"}),  # Arabic-Indic digits: 42, as the form reads them
        ("\uff14\uff12", {"root"}),  # full-width digits
        ("+42", {"root"}),
        ("-42", set()),
        ("²", set()),  # a digit to isdigit(), not to int()
        ("4.2e1", set()),
        ("nan", set()),
        ("inf", set()),
        ("99999999999999999999999999", set()),  # beyond the column's range
        ("2147483648", set()),
        ("-2147483649", set()),
        ("not a number", set()),
        ("   ", {"alice", "root"}),  # no term: everything
    ],
)
def test_search__numbers_typed_in_the_box(client, bills, term, found):
    assert search_for(client, term, **PAYBILLS) == {bills[name].pk for name in found}


def test_search__one_own_field_with_its_name(client, bills):
    alice, root = bills["alice"].pk, bills["root"].pk
    assert search_for(client, "amount:300", **PAYBILLS) == {alice}
    assert search_for(client, "amount: 42 ", **PAYBILLS) == {root}
    assert search_for(client, "recipient:ali", **PAYBILLS) == {alice}
    assert search_for(client, "recipient:alice", "/admin/testapp/paybill/") == {alice}
    assert search_for(client, "amount:alice", **PAYBILLS) == set()  # not a number: no match
    assert search_for(client, "recipient:300", **PAYBILLS) == set()  # its amount, not its user
    # Not an own field's name, or no term after it: the search as always.
    other = due(PayBill, amount=1, recipient=bills["alice"].recipient, source="note:300")
    assert search_for(client, "note:300", **PAYBILLS) == {other.pk}
    assert search_for(client, "amount:", **PAYBILLS) == set()
    assert search_for(client, "amount:300") == set()  # the unfiltered list: no own fields


def test_search__help_text_names_the_fields(client, bills):
    html = client.get(CHANGELIST, PAYBILLS).content.decode()
    assert "one field&#x27;s only: amount:, recipient: followed by the term" in html


def test_search__the_existing_search_keeps_working_on_the_filtered_list(client, bills):
    alice, root = bills["alice"].pk, bills["root"].pk
    assert search_for(client, "shop.order$1", **PAYBILLS) == {alice}  # the $ prefix
    assert search_for(client, "order", **PAYBILLS) == {alice}  # source
    assert search_for(client, "balance too", **PAYBILLS) == {root}  # error text
    assert root in search_for(client, str(root), **PAYBILLS)  # id


def test_search__the_unfiltered_list_does_not_search_own_fields(client, bills):
    assert search_for(client, "alice") == set()
    assert search_for(client, "shop.order$1") == {bills["alice"].pk}


def test_escaping__own_fields_in_the_list(client, root):
    hostile = User.objects.create(username=XSS)
    due(PayBill, amount=1, recipient=hostile)
    html = client.get(CHANGELIST, PAYBILLS).content.decode()
    assert XSS not in html and ESCAPED in html
    assert search_for(client, XSS, **PAYBILLS)


def test_actions_on_the_filtered_list(client, bills):
    from tests.admin.conftest import confirm, messages_of, states

    response = confirm(client, "cancel_triggers", [bills["alice"]], query="?type=testapp.paybill")
    assert messages_of(response) == ["1 cancelled"]
    assert states(bills["alice"]) == ["cancelled"]


# --- what each kind of field matches --------------------------------------------


def field(kind: models.Field, name: str) -> models.Field:
    kind.set_attributes_from_name(name)
    return kind


@pytest.fixture
def request_() -> object:
    return RequestFactory().get(CHANGELIST)


@pytest.mark.parametrize(
    ("kind", "term", "expected"),
    [
        (models.CharField(max_length=10), "Ab", Q(note__icontains="Ab")),
        (models.TextField(), "x", Q(note__icontains="x")),
        (models.CharField(max_length=1, choices=[("a", "A")]), "a", None),
        (models.DecimalField(max_digits=5, decimal_places=2), "1.5", Q(note=Decimal("1.5"))),
        (models.DecimalField(max_digits=5, decimal_places=2), "1234.5", None),  # too many digits
        (models.DecimalField(max_digits=5, decimal_places=2), "nan", None),
        (models.FloatField(), "2.5", Q(note=2.5)),
        (models.FloatField(), "inf", None),
        (models.FloatField(), "1e999", None),
        (models.FloatField(), "nan", None),
        (models.UUIDField(), "x", None),
        (models.UUIDField(), str(uuid.UUID(int=1)), Q(note=uuid.UUID(int=1))),
        (models.BigIntegerField(), "9223372036854775808", None),
        (models.PositiveIntegerField(), "-1", None),
        (models.DateTimeField(), "2026-01-01", None),  # not searched
        (models.BooleanField(), "1", None),
        (models.JSONField(), "1", None),
    ],
)
def test_match__each_kind_of_field(request_, kind, term, expected):
    model_admin = TriggerAdmin(PayBill, AdminSite())
    assert _match(model_admin, request_, field(kind, "note"), term) == expected


def test_match__a_foreign_key_without_an_admin_search_matches_its_primary_key(request_, bills):
    model_admin = TriggerAdmin(PayBill, AdminSite())  # no admin for User on this site
    alice = bills["alice"].recipient
    q = search(model_admin, request_, PayBill, str(alice.pk))
    assert set(PayBill.objects.filter(q).values_list("pk", flat=True)) == {bills["alice"].pk}
    assert search(model_admin, request_, PayBill, "alice") == Q(pk__in=[])


def test_columns__after_the_source_or_at_the_end(request_):
    class NoSource(TriggerAdmin):
        list_display = ["id", "status_badge"]

    display = NoSource(PayBill, AdminSite()).get_list_display(request_)
    assert display[:2] == ["id", "status_badge"]
    assert [column.__name__ for column in display[2:]] == ["own_amount", "own_recipient"]
    display = TriggerAdmin(PayBill, AdminSite()).get_list_display(request_)
    at = display.index("source")
    assert [column.__name__ for column in display[at + 1 : at + 3]] == [
        "own_amount",
        "own_recipient",
    ]
