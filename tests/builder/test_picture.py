"""The picture: stage boxes sized by open deals, conversion on the arrows."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dealgate.builder.figures import StageFigures
from dealgate.builder.picture import MAX_H, MIN_H, render_svg
from tests.web.helpers import make_deal

SVG = "{http://www.w3.org/2000/svg}"


def _stages() -> list[StageFigures]:
    return [
        StageFigures("inquiry", "Inquiry <received>", 10, 0, False, 0.5),
        StageFigures("proposal", "Proposal requested by the buyer", 40, 3, True, 0.25),
        StageFigures("contract", "Contract requested", 0, 0, False, None),
    ]


def test_boxes_are_sized_by_open_deals_and_arrows_show_conversion():
    root = ET.fromstring(render_svg("New & used", _stages(), won=7))

    boxes = root.findall(f"{SVG}g[@class='stage']/{SVG}rect")
    heights = [float(box.get("height")) for box in boxes]
    assert heights == [MIN_H + (MAX_H - MIN_H) / 4, MAX_H, MIN_H]
    labels = [text.text for text in root.iter(f"{SVG}text")]
    assert [t for t in labels if t.endswith("%") or t == "–"] == ["50%", "25%", "–"]
    assert "3 at risk" in labels and "Won" in labels and "7" in labels
    assert root.find(f"{SVG}title").text == "New & used"


def test_names_are_escaped_and_shortened_with_the_full_name_kept():
    svg = render_svg("P", _stages(), won=0)

    assert "Inquiry &lt;received&gt;" in svg
    assert "<received>" not in svg
    assert "Proposal requested …" not in svg
    assert ">Proposal requested<" in svg and ">by the buyer<" in svg
    assert "<title>Proposal requested by the buyer</title>" in svg


def test_a_long_name_is_cut_only_past_two_lines():
    long = StageFigures(
        "x", "Discovery call booked by the buyer's whole board", 1, 0, False, 0.5
    )
    svg = render_svg("P", [long], won=0)

    assert ">Discovery call<" in svg
    assert ">booked by the buyer…<" in svg


def test_an_arrow_says_what_its_share_counts():
    stage = StageFigures(
        "i", "Interest shown", 3, 0, False, 0.94, reached=50, went_on=47
    )
    svg = render_svg("P", [stage], won=0)

    assert (
        "94%: 47 of the 50 deals that reached Interest shown or a stage after it "
        "(a skip or an imported position counts) went on" in svg
    )
    assert "skips and" in svg


def test_a_bottleneck_gets_a_thick_border():
    root = ET.fromstring(render_svg("P", _stages(), won=0))

    widths = [
        box.get("stroke-width")
        for box in root.findall(f"{SVG}g[@class='stage']/{SVG}rect")
    ]
    assert widths == ["1", "3", "1"]


def test_the_picture_is_served_as_svg_and_can_be_downloaded(
    rep_client, it_services, now
):
    make_deal(it_services, "inquiry", days_in_stage=10)

    shown = rep_client.get("/pipelines/it-services/picture.svg")
    saved = rep_client.get("/pipelines/it-services/picture.svg?download=1")

    assert shown["Content-Type"] == "image/svg+xml; charset=utf-8"
    root = ET.fromstring(shown.content)
    assert len(root.findall(f"{SVG}g[@class='stage']")) == 5
    assert saved["Content-Disposition"] == 'attachment; filename="it-services.svg"'
