"""Where the visit came from (``Submission.source``) in the CRM: the remark through the lead mapping, the
message-board posts."""

import pytest

from crm_bridge import delivery
from crm_bridge.delivery.flows import SOURCE_URL_SHOWN, build_customer, duplicate_board_note, source_text
from crm_bridge.models import Submission, default_lead_mapping

S = Submission.Status
SOURCE = {
    "landing": "https://shop.example/?utm_source=baidu&bd_vid=v1",
    "referrer": "https://www.baidu.com/",
    "utm_source": "baidu",
    "utm_campaign": "spring",
    "bd_vid": "v1",
    "clickid": "c9",
}
SOURCE_TEXT = (
    "来源: utm_source=baidu, utm_campaign=spring\n"
    "落地页: https://shop.example/?utm_source=baidu&bd_vid=v1\n"
    "引荐页: https://www.baidu.com/\n"
    "点击ID: bd_vid=v1, clickid=c9"
)


def test_source_text_one_line_per_item_in_a_fixed_order():
    assert source_text(SOURCE) == SOURCE_TEXT
    assert source_text({"qhclickid": "q"}) == "点击ID: qhclickid=q"
    assert source_text({"utm_term": "crm", "utm_medium": "cpc"}) == "来源: utm_medium=cpc, utm_term=crm"
    assert source_text({}) == source_text(None) == ""
    # Not from our intake (a hand-edited row): non-strings, blanks and unknown keys are left out.
    assert source_text({"utm_source": 3, "utm_medium": "", "gclid": "g"}) == ""


def test_long_urls_are_cut_in_the_crm_text_only():
    long = "https://shop.example/" + "a" * 2000
    line = source_text({"landing": long})
    assert line == "落地页: " + long[: SOURCE_URL_SHOWN - 1] + "…"


@pytest.mark.django_db
def test_default_remark_gets_the_source_after_the_page_url(site):
    site.lead_mapping = default_lead_mapping()
    payload = {"name": "王五", "tel": "13900000001", "company": "某公司", "message": "要报价",
               "page_url": "https://shop.example/contact"}  # fmt: skip
    assert build_customer(site, payload, SOURCE)["remark"] == (
        "要报价\n联系人: 王五\n来源页面: https://shop.example/contact\n" + SOURCE_TEXT
    )
    # No source: the remark is what it was before attribution.
    assert build_customer(site, payload)["remark"] == "要报价\n联系人: 王五\n来源页面: https://shop.example/contact"
    site.lead_mapping = {"remark": "{message}", "memo": "{source}"}
    assert build_customer(site, payload, SOURCE)["memo"] == SOURCE_TEXT
    assert "memo" not in build_customer(site, payload, {})


@pytest.mark.django_db(transaction=True)
def test_lead_reaches_the_crm_with_its_source_in_the_remark(sandbox_crm, make_submission):
    sub = make_submission("lead", payload={"name": "赵六", "tel": "13912340000", "company": ""}, source=SOURCE)
    before = len(sandbox_crm.customers())
    assert delivery.deliver(sub.pk) == S.DELIVERED
    [created] = sandbox_crm.customers()[before:]
    assert created["remark"] == SOURCE_TEXT


@pytest.mark.django_db(transaction=True)
def test_message_board_post_carries_the_source(sandbox_crm, make_submission):
    sub = make_submission("message", payload={"content": "你好"}, source={"utm_source": "360", "qhclickid": "q1"})
    assert delivery.deliver(sub.pk) == S.DELIVERED
    board = sandbox_crm.messages("sandbox-site-key")
    assert [m["content"] for m in board] == ["你好\n来源: utm_source=360\n点击ID: qhclickid=q1"]


@pytest.mark.django_db
def test_returning_lead_note_carries_the_source_before_the_message(make_submission):
    sub = make_submission("lead", payload={"name": "钱七", "tel": "13900000002", "company": "", "message": "m" * 2000},
                          source={"utm_campaign": "spring"})  # fmt: skip
    note = duplicate_board_note(sub)
    assert note.split("\n")[:2] == ["重复线索 / returning lead: 钱七 13900000002", "来源: utm_campaign=spring"]
    assert len(note) == 2000
