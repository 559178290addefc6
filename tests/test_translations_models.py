"""Every model's names and field labels have zh_Hans entries (admin shows them to staff in Chinese).

tests/test_translations.py checks the catalogue's entries are complete and well-formed, not that a label the
source gained is in it: HitFold (migration 0002) and OperatorRun reached admin in English that way."""

from __future__ import annotations

from django.apps import apps
from django.utils import translation

#: Labels that are names, not words: the same in every language.
TECHNICAL = {"ID", "CRM siteKey", "pkid"}


def test_every_model_label_is_translated():
    untranslated = []
    with translation.override("zh-hans"):
        for model in apps.get_app_config("crm_bridge").get_models():
            labels = [model._meta.verbose_name, model._meta.verbose_name_plural]
            labels += [f.verbose_name for f in model._meta.get_fields() if getattr(f, "verbose_name", None)]
            untranslated += [f"{model.__name__}: {label}" for label in map(str, labels) if label.isascii()]
    assert [label for label in untranslated if label.split(": ", 1)[1] not in TECHNICAL] == []
