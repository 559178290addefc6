"""The HitFold model (migration 0002) added the labels "hit fold", "hit folds" and "token" without zh_Hans
entries; tests/test_translations.py checks the catalogue's entries, not that the source's new messages are in it
(every other model's own name is translated: test_labels_in_chinese)."""

from __future__ import annotations

from django.utils import translation

from crm_bridge.models import HitFold


def test_the_hit_fold_labels_are_translated():
    with translation.override("zh-hans"):
        labels = [HitFold._meta.verbose_name, HitFold._meta.verbose_name_plural]
        labels.append(HitFold._meta.get_field("token").verbose_name)
        untranslated = [str(label) for label in labels if str(label).isascii()]
    assert untranslated == []
