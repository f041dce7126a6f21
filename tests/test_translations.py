"""Every string a person reads is translatable, and the Dutch catalogue is complete.

One catalogue serves both apps: ``djtriggers/locale/nl/LC_MESSAGES/django.po``
(``make messages`` regenerates and compiles it). The tests render the pages in
Dutch, check that the catalogue holds every string of the code and templates,
translated, with a ``.mo`` compiled from it, and look for text that a person
reads but nobody marked for translation, in the templates and in the Python.
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.cache import cache
from django.core.management import CommandError, call_command, load_command_class
from django.template.base import Lexer, TokenType
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import capfirst

from djtriggers import times
from djtriggers.actions import RESCHEDULE
from djtriggers.forms import ActionForm
from djtriggers.models import OperatorAction, Trigger, TriggerAttempt, TriggerResult
from tests.conftest import login
from tests.factories import due, failed, make, pending, processed, worker

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "djtriggers" / "locale"
CATALOGUE = LOCALE / "nl" / "LC_MESSAGES" / "django.po"
COMPILED = CATALOGUE.with_suffix(".mo")
# What makemessages reads (as `make messages` does): the apps and the templates.
SOURCES = ["djtriggers", "dashboard", "templates"]

# Paths whose strings are not all marked yet, nor required in the catalogue (files
# being rewritten while the rest is marked). Phase 2 marked the admin: none left.
PHASE_2_PENDING: list[str] = []

INDEX = reverse("dashboard:index")
HTMX = {"HX-Request": "true"}


def pending_phase_2(path: str) -> bool:
    return any(path.startswith(prefix) for prefix in PHASE_2_PENDING)


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    # The dashboard caches the processed column of its type matrix.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def dutch() -> Iterator[None]:
    # The test settings have no LocaleMiddleware: the language is set for the
    # whole test, and the test client's requests run in it.
    with override_settings(LANGUAGE_CODE="nl"), translation.override("nl"):
        yield


# --- reading what a person sees ----------------------------------------------------

# Attributes whose values people read (or hear, with a screen reader).
PROSE_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "label"}
# value= is read on buttons only; elsewhere it is data.
BUTTON_TYPES = {"submit", "button", "reset"}


class Prose(HTMLParser):
    """The text nodes and prose attributes of HTML, outside <script> and <style>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._code += 1
        values = dict(attrs)
        for name, value in attrs:
            button = tag in ("input", "button") and values.get("type") in BUTTON_TYPES
            prose = name in PROSE_ATTRIBUTES or (name == "value" and button)
            if prose and value:
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._code -= 1

    def handle_data(self, data: str) -> None:
        if not self._code and data.strip():
            self.texts.append(data.strip())


def prose(html: str) -> list[str]:
    parser = Prose()
    parser.feed(html)
    parser.close()
    return parser.texts


def visible(response: Any) -> str:
    return "\n".join(prose(response.content.decode()))


def admin_content(response: Any) -> str:
    """What an admin page shows in its <main>: not the header and the app list around it."""
    main = re.search(r"<main\b.*</main>", response.content.decode(), re.DOTALL)
    assert main, "No <main> in the page."
    return "\n".join(prose(main.group()))


# --- (a) the pages in Dutch --------------------------------------------------------


def words(text: str) -> str:
    """A pattern for ``text`` as whole words."""
    return rf"(?<!\w){re.escape(text)}(?!\w)"


DASHBOARD = (
    "templates/dashboard/",
    "dashboard/",
    "djtriggers/actions.py",
    "djtriggers/lifecycle.py",
)
# The admin's pages also show the models' field names and the action forms.
ADMIN = (
    "templates/djtriggers/admin/",
    "djtriggers/admin/",
    "djtriggers/actions.py",
    "djtriggers/forms.py",
    "djtriggers/lifecycle.py",
    "djtriggers/models.py",
)
# A placeholder or markup in a message: English text stands between them.
NOT_ENGLISH = re.compile(r"%\(\w+\)[sd]|\{\w*\}|<[^>]*>")


def english(shown_by: tuple[str, ...]) -> set[str]:
    """The English text of the messages that ``shown_by`` shows, where their Dutch differs.

    A message with placeholders gives its parts between them ("Created as" of
    "Created as %(type)s"), but no part that its Dutch has too ("triggers").
    """
    texts = set()
    for entry in read_catalogue(CATALOGUE):
        if not entry.msgid or not any(where.startswith(shown_by) for where in entry.locations):
            continue
        dutch = " ".join(entry.msgstr.values())
        for msgid in filter(None, (entry.msgid, entry.msgid_plural)):
            for part in NOT_ENGLISH.split(msgid):
                part = part.strip(" ,.:;()?…")
                if len(re.findall(r"[a-z]", part, re.IGNORECASE)) > 1 and part not in dutch:
                    texts.add(part)
    return texts


def assert_no_english(text: str, shown_by: tuple[str, ...] = DASHBOARD) -> None:
    """None of that English in ``text``, as it is or with a capital (the admin's headers)."""
    leftovers = sorted(
        english_text
        for english_text in english(shown_by)
        if any(re.search(words(shown), text) for shown in {english_text, capfirst(english_text)})
    )
    assert leftovers == []


@pytest.fixture
def busy(db) -> None:
    """Something in every part of the page: every status, a failure group, a worker, lag."""
    pending(source="invoice$1")
    due(source="invoice$2")
    failed(source="invoice$3")
    failed(source="invoice$4")
    processed(at=timezone.now() - timedelta(minutes=1))
    make(process_after=timezone.now() - timedelta(minutes=20))
    worker("w1", seconds_ago=2 * 3600)


def test_dashboard__the_page_in_dutch(client, busy, dutch):
    login(client, superuser=True)
    text = visible(client.get(INDEX))
    for dutch_text in [
        "Triggerdashboard",
        "Live verversen pauzeren",
        "Wachtrij",
        "Langst wachtend",
        "Laatste hartslag",
        "(verlopen)",
        "Doorvoer, afgelopen uur",
        "Fouten, gegroepeerd",
        "Binnenkort",
        "Verwerken na",
        "Bron begint met",
        "elke status",
        # The actions, from djtriggers.actions.
        "Opnieuw verwerken",
        "Opnieuw inplannen",
        "Annuleren",
        # The statuses: the tiles, and the badges (in lower case).
        "Gepland",
        "Te verwerken",
        "In behandeling",
        "Mislukt",
        "Verwerkt",
        "Geannuleerd",
        "gepland",
        "te verwerken",
        "mislukt",
        "verwerkt",
        # Durations: "2u 0m geleden".
        "2u 0m geleden",
    ]:
        assert re.search(words(dutch_text), text), dutch_text
    assert_no_english(text)


@pytest.mark.parametrize("target", ["djt-live", "djt-list"])
def test_dashboard__its_fragments_in_dutch(client, busy, dutch, target):
    login(client, superuser=True)
    text = visible(client.get(INDEX, headers={**HTMX, "HX-Target": target}))
    assert re.search(words("mislukt" if target == "djt-list" else "Wachtrij"), text)
    assert_no_english(text)


def test_dashboard__an_empty_page_in_dutch(client, db, dutch):
    login(client, superuser=True)
    text = visible(client.get(INDEX))
    for dutch_text in [
        "Niets te verwerken, niets verwerkt in het afgelopen uur.",
        "Er draait geen worker. Start er een met",
        "Nog geen triggers.",
        "Niets gepland voor later.",
        "Geen mislukte triggers.",
        "Geen triggers gevonden.",
    ]:
        assert dutch_text in text
    assert_no_english(text)


def test_dashboard__row_actions_answer_in_dutch(client, db, dutch):
    login(client, superuser=True)
    trigger = failed()
    url = reverse("dashboard:trigger_action", args=[trigger.pk, "reprocess"])
    text = visible(client.post(url, headers=HTMX))
    assert f"Trigger {trigger.pk}: 1 opnieuw verwerkt" in text

    waiting = due(source="invoice$7")
    cancel = reverse("dashboard:trigger_action", args=[waiting.pk, "cancel"])
    text = visible(client.post(cancel, headers=HTMX))
    assert f"Annuleren van trigger #{waiting.pk} (noop, invoice$7)?" in text
    assert "Wordt niet verwerkt (opnieuw verwerken brengt hem terug)." in text
    assert "Ja, annuleren" in text
    assert "Reden (optioneel)" in text
    assert_no_english(text)

    done = processed()
    cancel = reverse("dashboard:trigger_action", args=[done.pk, "cancel"])
    text = visible(client.post(cancel, {"confirm": "yes"}, headers=HTMX))
    assert "Niet geannuleerd: al verwerkt." in text

    reschedule = reverse("dashboard:trigger_action", args=[failed().pk, "reschedule"])
    text = visible(client.post(reschedule, {"process_after": "soon"}, headers=HTMX))
    assert "Niet opnieuw ingepland: 'soon' is geen datum en tijd" in text


def test_dashboard__group_actions_answer_in_dutch(client, db, dutch):
    login(client, superuser=True)
    group = failed(source="a")
    failed(source="b")
    data = {"trigger_type": "noop", "fingerprint": group.error_fingerprint}
    url = reverse("dashboard:group_action", args=["reprocess"])
    text = visible(client.post(url, data, headers=HTMX))
    assert "Opnieuw verwerken van 2 mislukte triggers uit deze groep?" in text
    assert "Ja, 2 opnieuw verwerken" in text
    text = visible(client.post(url, {**data, "confirm": "yes"}, headers=HTMX))
    assert "Opnieuw verwerken van foutgroep (noop): 2 opnieuw verwerkt" in text


def test_dashboard__messages_without_javascript_in_dutch(client, db, dutch):
    login(client, superuser=True)
    url = reverse("dashboard:trigger_action", args=[failed().pk, "reprocess"])
    page = visible(client.post(url, follow=True))
    assert "1 opnieuw verwerkt" in page


def test_forms_and_times__errors_in_dutch(dutch):
    form = ActionForm(RESCHEDULE, {"process_after": "+5x"})
    assert not form.is_valid()
    assert form.errors["process_after"] == [
        "'+5x' is geen vertraging: gebruik + en een getal met een eenheid (s, m, h, d of w), "
        "bijv. +90s, +30m, +2h of +1d12h."
    ]
    assert form.fields["reason"].label == "Reden"
    with pytest.raises(ValueError, match="is te lang: de langste duur is 100 jaar"):
        times.parse_duration("36526d")


def test_commands__output_help_and_errors_in_dutch(db, dutch):
    out = StringIO()
    call_command("clean_triggers", stdout=out)
    assert out.getvalue().startswith("0 processed/failed/cancelled triggers verwijderd die vóór")
    with pytest.raises(CommandError, match="Onbekende triggertype"):
        call_command("process_triggers", "--types", "nope")
    command = load_command_class("djtriggers", "run_triggers")
    help_text = " ".join(command.create_parser("manage.py", "run_triggers").format_help().split())
    assert "Start de triggerworker: verwerk triggers zodra ze aan de beurt zijn" in help_text
    assert "Stop na zoveel seconden." in help_text


CHANGELIST = reverse("admin:djtriggers_trigger_changelist")


def change_page(trigger: Trigger) -> str:
    return reverse("admin:djtriggers_trigger_change", args=[trigger.pk])


def assert_shown(texts: list[str], text: str) -> None:
    assert [shown for shown in texts if not re.search(words(shown), text)] == []


def test_admin__the_list_in_dutch(client, one_of_each, dutch):
    login(client, superuser=True)
    text = admin_content(client.get(CHANGELIST))
    # fmt: off
    assert_shown([
        # The columns.
        "Type", "Bron", "Ontvangen", "Verwerken na", "Verwerkt", "Pogingen", "Laatste fout",
        "te laat",
        # The filters: their titles, in Django's "By ...", and the statuses.
        "Op status", "Op type", "Op ontvangstdatum", "Op verwerken na", "Op verwerkingsdatum",
        "Gepland", "Te verwerken", "In behandeling", "Mislukt", "Verwerkt", "Geannuleerd",
        # The badges.
        "gepland", "te verwerken", "in behandeling", "mislukt", "verwerkt", "geannuleerd",
        # The actions.
        "Geselecteerde triggers opnieuw verwerken (nu te verwerken, weer alle pogingen)",
        "Geselecteerde triggers opnieuw verwerken, gespreid…",
        "Geselecteerde triggers opnieuw inplannen…",
        "Geselecteerde triggers annuleren…",
        "Geselecteerde triggers nu verwerken (hoogstens 20)",
        # The search's help.
        "Bron (een zoekterm met $ vindt de bronnen die ermee beginnen), fouttekst of een id.",
    ], text)
    # fmt: on
    for leftover in ["Reprocess", "Reschedule", "Cancel", "selected triggers", "overdue by"]:
        assert not re.search(words(leftover), text, re.IGNORECASE), leftover
    assert_no_english(text, ADMIN)


@pytest.fixture
def story(one_of_each) -> Trigger:
    """The failed trigger, with a try, a result and an operator's action in its timeline."""
    trigger = one_of_each["failed"]
    now = timezone.now()
    TriggerAttempt.objects.create(
        trigger=trigger,
        number=1,
        worker="w1",
        started_at=now,
        finished_at=now + timedelta(milliseconds=1500),
        outcome="failure",
        exception_class="ValueError",
        message="no coffee",
    )
    TriggerResult.objects.create(trigger=trigger, result="paid")
    action = OperatorAction.objects.create(
        kind="reschedule",
        process_after=datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC),
        spread=timedelta(hours=1),
        changed=3,
    )
    action.triggers.add(trigger)
    return trigger


def test_admin__the_trigger_page_in_dutch(client, one_of_each, story, dutch):
    login(client, superuser=True)
    text = admin_content(client.get(change_page(story)))
    # fmt: off
    assert_shown([
        # The status and the buttons.
        "mislukt", "Opnieuw verwerken", "Opnieuw inplannen…",
        # The fields: the operator's, then the system's.
        "Bron", "Verwerken na", "Triggertype", "Ontvangstdatum", "Verwerkingsdatum",
        "Aantal pogingen", "Toestand", "Laatste fout", "Vingerafdruk van de fout",
        "Vergrendeld door", "Vergrendeld tot", "Alleen uitvoeren",
        # The timeline.
        "Tijdlijn", "Aangemaakt als noop", "Poging 1: mislukt", "1,500 s", "Resultaat",
        "Opnieuw ingepland door een operator (nieuw tijdstip: 2031-01-02 03:04:05 UTC), "
        "gespreid over 1:00:00 (3 triggers tegelijk)",
        # The reschedule's form.
        "Opnieuw inplannen: te verwerken op het opgegeven tijdstip, met weer alle pogingen.",
    ], text)
    # fmt: on
    for leftover in ["Reprocess", "Reschedule", "Timeline", "Created as", "by an operator"]:
        assert not re.search(words(leftover), text, re.IGNORECASE), leftover
    assert_no_english(text, ADMIN)

    text = admin_content(client.get(change_page(one_of_each["due"])))
    assert_shown(["te verwerken", "Annuleren…", "Nu verwerken", "Ja, deze trigger annuleren"], text)
    assert_no_english(text, ADMIN)


def test_admin__an_actions_page_in_dutch(client, one_of_each, dutch):
    login(client, superuser=True)
    selected = [one_of_each[status].pk for status in ("pending", "due", "processed")]
    data = {ACTION_CHECKBOX_NAME: selected, "action": "cancel_triggers"}
    text = admin_content(client.post(CHANGELIST, data))
    # fmt: off
    assert_shown([
        # The title, what will change and what not ("<strong>2</strong> triggers worden ...").
        "Annuleren van triggers", "triggers worden geannuleerd.",
        "Overgeslagen en ongemoeid gelaten:", "1 al verwerkt",
        # The triggers that will change.
        "Dit zijn ze", "Bron", "Verwerken na", "Laatste fout", "gepland", "te verwerken",
        # The form's buttons.
        "Ja, 2 triggers annuleren", "Nee, ga terug",
    ], text)
    # fmt: on
    assert_no_english(text, ADMIN)


@pytest.mark.parametrize(
    ("estimate", "shown"),
    [
        (None, "Geteld tot 2: er zijn er meer. Filter verder om ze allemaal te zien."),
        (8, "Ongeveer 8 triggers: een schatting, de tabel is te groot om te tellen."),
    ],
)
def test_admin__a_capped_count_in_dutch(client, one_of_each, dutch, monkeypatch, estimate, shown):
    monkeypatch.setattr("djtriggers.admin.paginator.COUNT_CAP", 2)
    monkeypatch.setattr("djtriggers.admin.paginator.estimated_rows", lambda model, using: estimate)
    login(client, superuser=True)
    assert shown in admin_content(client.get(CHANGELIST))


# --- (b) the catalogue ---------------------------------------------------------------


class Entry:
    """One message of a .po file."""

    def __init__(self) -> None:
        self.locations: list[str] = []
        self.flags: set[str] = set()
        self.msgctxt: str | None = None
        self.msgid = ""
        self.msgid_plural: str | None = None
        self.msgstr: dict[int, str] = {}

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        return (self.msgctxt, self.msgid, self.msgid_plural)

    @property
    def pending_phase_2(self) -> bool:
        """Used only in files that phase 2 marks: not required yet."""
        return bool(self.locations) and all(pending_phase_2(path) for path in self.locations)


PO_LINE = re.compile(r'(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d)\])? (".*")')


def read_catalogue(path: Path) -> list[Entry]:
    """The messages of a .po file as makemessages writes it (the header included, msgid "")."""
    entries: list[Entry] = []
    entry: Entry | None = None
    field: tuple[str, int] = ("msgid", 0)
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry is not None:
                entries.append(entry)
            entry = None
            continue
        entry = entry or Entry()
        if line.startswith("#:"):
            entry.locations += line[2:].split()
        elif line.startswith("#,"):
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif match := PO_LINE.fullmatch(line):
            name, index, value = match.groups()
            field = (name, int(index or 0))
            text = ast.literal_eval(value)
            if name == "msgstr":
                entry.msgstr[field[1]] = text
            else:
                setattr(entry, name, text)
        else:  # a continued string
            text = ast.literal_eval(line)
            if field[0] == "msgstr":
                entry.msgstr[field[1]] += text
            else:
                setattr(entry, field[0], (getattr(entry, field[0]) or "") + text)
    return entries


def required(entries: list[Entry]) -> set[tuple[str | None, str, str | None]]:
    return {entry.key for entry in entries if entry.msgid and not entry.pending_phase_2}


@pytest.fixture
def fresh_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The committed catalogue after makemessages over a copy of the sources."""
    assert shutil.which("xgettext") and shutil.which("msgmerge"), "Install gettext."
    for folder in SOURCES:
        shutil.copytree(
            ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__", "*.mo")
        )
    monkeypatch.chdir(tmp_path)
    with override_settings(LOCALE_PATHS=[tmp_path / "djtriggers" / "locale"]):
        # The options of `make messages`.
        call_command(
            "makemessages", locale=["nl"], add_location="file", no_obsolete=True, verbosity=0
        )
    return tmp_path / CATALOGUE.relative_to(ROOT)


def test_catalogue__makemessages_adds_and_removes_nothing(fresh_catalogue):
    committed = required(read_catalogue(CATALOGUE))
    fresh = required(read_catalogue(fresh_catalogue))
    assert fresh - committed == set(), "New strings: run `make messages` and translate them."
    assert committed - fresh == set(), "Strings no longer used: run `make messages`."


def test_catalogue__every_message_is_translated_and_none_is_fuzzy():
    entries = read_catalogue(CATALOGUE)
    [header] = [entry for entry in entries if not entry.msgid]
    assert "fuzzy" not in header.flags
    assert "Language: nl\n" in header.msgstr[0]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in header.msgstr[0]
    messages = [entry for entry in entries if entry.msgid and not entry.pending_phase_2]
    assert [entry.msgid for entry in messages if "fuzzy" in entry.flags] == []
    untranslated = [
        entry.msgid
        for entry in messages
        if set(entry.msgstr) != ({0, 1} if entry.msgid_plural else {0})
        or not all(entry.msgstr.values())
    ]
    assert untranslated == []


def test_catalogue__msgfmt_finds_no_format_or_header_problem(tmp_path):
    result = subprocess.run(
        ["msgfmt", "--check", "-o", str(tmp_path / "django.mo"), str(CATALOGUE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_catalogue__the_committed_mo_is_compiled_from_the_po(tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(compiled), str(CATALOGUE)], check=True)
    with COMPILED.open("rb") as committed, compiled.open("rb") as fresh:
        assert (
            gettext.GNUTranslations(committed)._catalog  # type: ignore[attr-defined]
            == gettext.GNUTranslations(fresh)._catalog  # type: ignore[attr-defined]
        ), "Run `make messages` to compile the catalogue."


# --- (c) no unmarked text -----------------------------------------------------------

# A template tag or variable, replaced before the HTML is read: not a letter.
TAG = "\ue000"
# Text with letters that is not prose, the same in every language. Keep it short.
NOT_PROSE = {
    "+1h",  # the placeholder of a time field: an example of what the parser reads
}
# Blocks of the admin's base template that hold no prose: <body class="{% block bodyclass %}">.
NOT_PROSE_BLOCKS = {"bodyclass"}
TRANSLATE_BLOCKS = {"blocktranslate": "endblocktranslate", "blocktrans": "endblocktrans"}
# {{ x|default:"text" }} shows "text" where it stands (text, or an attribute): it needs _("text").
UNMARKED_DEFAULT = re.compile(r"""\|default(?:_if_none)?:(["'])(?P<text>.*?)\1""")


def templates() -> list[str]:
    folder = ROOT / "templates"
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in folder.rglob("*.html")
        if not pending_phase_2(path.relative_to(ROOT).as_posix())
    )


def unmarked_in_template(source: str) -> list[str]:
    """Text a person reads in a template that no {% translate %} or {% blocktranslate %} holds."""
    html: list[str] = []
    found: list[str] = []
    inside: str | None = None  # the end tag of the block being skipped
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.split_contents()[0]
            if inside:
                inside = None if name == inside else inside
                continue
            if name in TRANSLATE_BLOCKS or name == "comment":
                inside = TRANSLATE_BLOCKS.get(name, "endcomment")
            elif name == "block" and token.split_contents()[1] in NOT_PROSE_BLOCKS:
                inside = "endblock"
            html.append(TAG)
        elif inside:
            continue
        elif token.token_type == TokenType.VAR:
            defaults = [m["text"] for m in UNMARKED_DEFAULT.finditer(token.contents)]
            html.append(TAG + " ".join(defaults))
        elif token.token_type == TokenType.TEXT:
            html.append(token.contents)
    for text in prose("".join(html)):
        text = text.replace(TAG, " ").strip()
        if text not in NOT_PROSE and any(character.isalpha() for character in text):
            found.append(text)
    return found


@pytest.mark.parametrize("name", templates())
def test_templates__every_text_a_person_reads_is_marked(name):
    assert unmarked_in_template((ROOT / name).read_text(encoding="utf-8")) == []


def test_templates__the_check_finds_unmarked_text():
    assert unmarked_in_template(
        "{% block bodyclass %}{{ block.super }} my-class{% endblock %}"
        '{% load i18n %}<p title="Hello">{% translate "Yes" %} No</p>'
        '{% blocktranslate %}Fine{% endblocktranslate %}<input type="submit" value="Go">'
        '<input name="x" placeholder="+1h"> <b id="g-{{ z|default:"none" }}"></b>'
        '{{ x|default:"nothing" }} {{ y|default:_("ok") }}'
    ) == ["Hello", "No", "Go", "nothing"]


GETTEXT_CALLS = {
    "_",
    "gettext",
    "gettext_lazy",
    "gettext_noop",
    "ngettext",
    "ngettext_lazy",
    "pgettext",
    "pgettext_lazy",
    "npgettext",
    "npgettext_lazy",
}
# Calls whose first argument people read: exceptions shown in forms, pages and
# terminals. (ValueError and friends are also raised for developers: not here.)
READ_FIRST_ARGUMENT = {
    "ValidationError",
    "CommandError",
    "ArgumentTypeError",
    "ActionError",
    "PermissionDenied",
    "GaveUp",
}
# messages.<level>(request, message) and messages.add_message(request, level, message).
MESSAGES = {"debug": 1, "info": 1, "success": 1, "warning": 1, "error": 1, "add_message": 2}
# Keyword arguments that people read (forms, filters, models, admin, argparse) ...
READ_KEYWORDS = {
    "verbose_name",
    "verbose_name_plural",
    "help_text",
    "label",
    "empty_label",
    "description",
    "help",
}
# ... and class attributes (AppConfig and Meta, BaseCommand.help, a list filter's
# title, a ModelAdmin's search help).
READ_ATTRIBUTES = {"verbose_name", "verbose_name_plural", "help", "title", "search_help_text"}


def name_of(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def bare_strings(node: ast.AST) -> list[str]:
    """The string literals with letters in ``node`` that no gettext call wraps."""
    if isinstance(node, ast.Call) and name_of(node.func) in GETTEXT_CALLS:
        return []
    if isinstance(node, ast.Constant):
        text = node.value
        return [text] if isinstance(text, str) and any(c.isalpha() for c in text) else []
    if isinstance(node, ast.FormattedValue):  # not its format spec ({when:%Y-%m-%d})
        children: list[ast.AST] = [node.value]
    elif isinstance(node, ast.Dict):  # ValidationError({field: message})
        children = [value for value in node.values if value is not None]
    else:
        children = list(ast.iter_child_nodes(node))
    return [text for child in children for text in bare_strings(child)]


def read_by_people(call: ast.Call) -> list[ast.AST]:
    """The arguments of ``call`` that a person reads."""
    func, args = call.func, call.args
    name = name_of(func)
    read: list[ast.AST] = [kw.value for kw in call.keywords if kw.arg in READ_KEYWORDS]
    if name in READ_FIRST_ARGUMENT and args:
        read.append(args[0])
    read += [kw.value for kw in call.keywords if kw.arg == "message"]
    if isinstance(func, ast.Attribute):
        owner = func.value
        if name in MESSAGES and name_of(owner) == "messages" and len(args) > MESSAGES[name]:
            read.append(args[MESSAGES[name]])
        if name == "message_user" and len(args) > 1:
            read.append(args[1])
        stream = name_of(owner) in ("stdout", "stderr")
        if name == "write" and stream and name_of(getattr(owner, "value", None)) == "self":
            read += args[:1]
    return read


def unmarked_in_python(source: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for argument in read_by_people(node):
                found += bare_strings(argument)
        elif isinstance(node, ast.ClassDef):
            for statement in node.body:
                if isinstance(statement, ast.Assign) and any(
                    name_of(target) in READ_ATTRIBUTES for target in statement.targets
                ):
                    found += bare_strings(statement.value)
    return found


def python_modules() -> list[str]:
    return sorted(
        path.relative_to(ROOT).as_posix()
        for folder in ("djtriggers", "dashboard")
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts and not pending_phase_2(path.relative_to(ROOT).as_posix())
    )


@pytest.mark.parametrize("name", python_modules())
def test_python__every_text_a_person_reads_is_marked(name):
    assert unmarked_in_python((ROOT / name).read_text(encoding="utf-8")) == []


def test_python__the_check_finds_unmarked_text():
    source = """
class Meta:
    verbose_name = "thing"
    verbose_name_plural = _("things")

class Filter(admin.SimpleListFilter):
    title = "kind"

messages.success(request, f"{n} done")
messages.add_message(request, messages.ERROR, gettext("Oops"))
self.message_user(request, "Saved")
self.stdout.write("Deleted %d" % n)
raise CommandError(gettext("Bad %(x)s") % {"x": "value"})
raise ValidationError({"field": "Wrong"})
forms.CharField(label="Name", help_text=_("Help"))
log.error("for developers")
raise ValueError("for developers too")
x = f"{when:%Y-%m-%d}"
"""
    assert sorted(unmarked_in_python(source)) == sorted(
        ["thing", "kind", " done", "Saved", "Deleted %d", "value", "Wrong", "Name"]
    )
