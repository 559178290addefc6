"""Personal information under China's PIPL (docs/privacy.md): the privacy notice a visitor
consents to (:mod:`.notice`), redaction past the retention period (:mod:`.retention`) and data-subject requests
— find, export, erase — with their audit trail (:mod:`.requests`).

Nothing is re-exported here: :mod:`crm_bridge.models` imports :mod:`.notice`, and the other modules import the
models, so importing them from this package's ``__init__`` would be circular.
"""
